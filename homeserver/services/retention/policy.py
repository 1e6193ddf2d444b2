"""The retention policy job: purge the messages each room's policy has expired (run every
`purge_interval` by `RetentionService.run`), and the numbers an operator watches.

A room's messages live `EventExpiry.max_lifetime` (its `m.room.retention` within the server's
limits, or the server default). Each run purges, room by room, the messages sent in
`[watermark, now - lifetime]` and then raises the room's watermark past them, so a run
reads only what expired since the last one, and a restart or a failed run simply leaves the work
to the next run: it is derived from the database and the injected clock alone. Readers never
wait for the job: `EventExpiry` hides expired messages from the moment they expire.

`configuration` is the MSC1763 discovery answer (`/retention/configuration`); `stats` the plain
counters: events purged, media bytes freed, and the purge lag (how long the oldest expired
message still waiting for the purge has been expired; 0 when none waits).
"""

from __future__ import annotations

import asyncio
import logging

from core.errors import JsonDict
from core.identifiers import RoomId
from homeserver.clock import Clock
from homeserver.services.retention.purger import Purger
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.storage.retention.purge import EVENTS_PURGED, MEDIA_BYTES_FREED, PurgeStore
from homeserver.storage.retention.tracking import TrackingStore

__all__ = ["RetentionPolicyJob"]

logger = logging.getLogger(__name__)

_PAGE = 500


class RetentionPolicyJob:
    """Purges expired messages periodically; reports the counters."""

    def __init__(
        self,
        *,
        expiry: EventExpiry,
        store: PurgeStore,
        timers: TrackingStore,
        purger: Purger,
        clock: Clock,
    ) -> None:
        self._expiry = expiry
        self._store = store
        self._timers = timers
        self._purger = purger
        self._clock = clock
        self._lock = asyncio.Lock()  # one run at a time (the job, an admin's purge)

    async def run_once(self) -> int:
        """One run over every room; returns how many messages it purged."""
        async with self._lock:
            return await self._run()

    async def _run(self) -> int:
        now = self._clock.time_ms()
        total = 0
        for room in await self._store.rooms():
            lifetime = await self._expiry.max_lifetime(room.room_id)
            if lifetime is None:
                continue
            before = now - lifetime + 1  # a message sent `lifetime` ago has just expired
            if room.purged_upto_ts is not None and room.purged_upto_ts >= before:
                continue
            total += await self.purge_before(room.room_id, room.purged_upto_ts, before)
        await self.settle(total)
        return total

    async def settle(self, purged: int) -> None:
        """After purging: delete the media left unreferenced, then scrub the files."""
        media = await self._purger.release_media()
        if purged or media or self._purger.deep_scrub_due_in() == 0:
            await self._purger.scrub()

    async def purge_before(self, room_id: RoomId, since_ts: int | None, before_ts: int) -> int:
        """Purge the room's messages sent in `[since_ts, before_ts)`; the watermark rises to
        `before_ts` once all are purged. Returns how many were purged."""
        total = 0
        while batch := await self._store.messages_before(room_id, since_ts, before_ts, _PAGE):
            done = await self._purger.purge(batch)
            total += done.purged
            if done.deferred:
                return total  # the rest waits for the indexers; the watermark stays
        await self._store.set_watermark(room_id, before_ts)
        return total

    def configuration(self) -> JsonDict:
        """The server's policy as MSC1763 publishes it."""
        limits = self._expiry.limits
        policies: JsonDict = {}
        if limits.enabled and limits.default_max_lifetime is not None:
            policies["*"] = {"max_lifetime": limits.default_max_lifetime}
        bounds: JsonDict = {}
        if limits.enabled and limits.allowed_min is not None:
            bounds["min"] = limits.allowed_min
        if limits.enabled and limits.allowed_max is not None:
            bounds["max"] = limits.allowed_max
        return {"policies": policies, "limits": {"max_lifetime": bounds} if bounds else {}}

    async def stats(self) -> JsonDict:
        """The counters: `events_purged`, `media_bytes_freed`, `purge_lag_ms`."""
        counters = await self._store.counters()
        return {
            "events_purged": counters[EVENTS_PURGED],
            "media_bytes_freed": counters[MEDIA_BYTES_FREED],
            "purge_lag_ms": await self.purge_lag(),
        }

    async def purge_lag(self) -> int:
        """How long the oldest expired message not yet purged has been expired, in ms."""
        now = self._clock.time_ms()
        oldest_expiry: int | None = None
        for room in await self._store.rooms():
            lifetime = await self._expiry.max_lifetime(room.room_id)
            if lifetime is None:
                continue
            sent = await self._store.oldest_unpurged(room.room_id, room.purged_upto_ts)
            if sent is not None and sent + lifetime <= now:
                expiry = sent + lifetime
                oldest_expiry = expiry if oldest_expiry is None else min(oldest_expiry, expiry)
        due = await self._timers.next_due()
        if due is not None and due <= now:
            oldest_expiry = due if oldest_expiry is None else min(oldest_expiry, due)
        return now - oldest_expiry if oldest_expiry is not None else 0

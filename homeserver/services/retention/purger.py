"""Deleting events for good: the one purge every path uses (the retention policy, self-destruct
timers, an admin's purge, a deleted room).

For each batch, in this order:
1. the search index lets go of the events (while their JSON can still be read);
2. each event's stored JSON becomes its redacted skeleton (`core.redaction`), so the room's
   DAG still authorises and paginates; the cached copies are replaced. An event a redaction
   already pruned keeps its redaction; one purged otherwise is marked as redacted by itself;
3. copies queued for other servers (the federation outbox) become the redacted form too, so
   nothing purged is sent later to a server that was unreachable;
4. `PurgeStore.record_purged` commits the rest (see `storage/retention/purge.py`): the purge
   list, media references, timers, notifications (the unread counts recomputed and the users'
   syncs woken), media left unreferenced queued, the counter.
Each step can be repeated, so an interrupted batch is simply redone. An event the search
indexer or the retention tracker has not reached yet is left for a later run
(`Purge.deferred`): purged first, its content could reach the index after the pruning, or its
media references never be recorded.

After a run, `release_media` deletes the queued media and `scrub` leaves no copy of what was
deleted in the database files (`storage/retention/scrub.py`): at once for the rows themselves,
and, by a deep scrub that rewrites the search index, for the search terms too. A deep scrub
costs about a second per million indexed messages on SQLite (and holds its writer lock) and
more on PostgreSQL (it rewrites the search table), so it runs at most every `DEEP_SCRUB_S` of
the clock, whenever something was purged since the last one (`run`, the purger's own task); one
that an older transaction kept from removing everything (PostgreSQL) is retried
`SCRUB_RETRY_S` later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from core.errors import JsonDict
from core.events import Pdu
from core.hashes import compute_event_id
from core.identifiers import EventId, RoomId
from core.redaction import redact
from core.room_versions import RoomVersion, get_room_version
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.services.retention.ports import MediaPurgePort, SearchIndexPort
from homeserver.services.rooms.events import EventService
from homeserver.storage.federation.outbox import OutboxStore
from homeserver.storage.retention.purge import PurgedEvent, PurgeStore
from homeserver.storage.rooms.events import EventStore
from homeserver.storage.rooms.reads import RoomReadStore

__all__ = ["Purge", "Purger"]

logger = logging.getLogger(__name__)

BATCH: Final = 200
DEEP_SCRUB_S: Final = 600.0
SCRUB_RETRY_S: Final = 5.0


@dataclass(slots=True)
class Purge:
    """What one call of `Purger.purge` did."""

    purged: int = 0
    deferred: list[PurgedEvent] = field(default_factory=list)


class Purger:
    """Deletes events' content and what derives from it (see the module docstring)."""

    def __init__(
        self,
        *,
        events: EventService,
        event_store: EventStore,
        reads: RoomReadStore,
        store: PurgeStore,
        notifier: Notifier,
        clock: Clock,
        search: SearchIndexPort | None = None,
        media: MediaPurgePort | None = None,
        tracked: Callable[[], int] = lambda: 2**62,
        outbox: OutboxStore | None = None,
    ) -> None:
        self._events = events
        self._event_store = event_store
        self._reads = reads
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._search = search
        self._media = media
        self._tracked = tracked
        self._outbox = outbox
        self._versions: dict[RoomId, RoomVersion] = {}
        self._dirty = False  # something was purged since the last deep scrub
        self._last_deep: float | None = None
        self._horizon: int | None = None
        self._scrub_wanted = asyncio.Event()
        # One purge at a time: the jobs and the admin share the counters and the scrub.
        self._lock = asyncio.Lock()

    async def purge(self, events: Sequence[PurgedEvent]) -> Purge:
        """Purge `events` (those the search indexer has not reached are deferred)."""
        result = Purge()
        async with self._lock:
            await self._store.prepare()
            ready: list[PurgedEvent] = []
            reached = self._tracked()
            if self._search is not None:
                reached = min(reached, self._search.processed_position())
            for event in events:
                if event.stream_ordering > reached:
                    result.deferred.append(event)
                else:
                    ready.append(event)
            for start in range(0, len(ready), BATCH):
                result.purged += await self._purge_batch(ready[start : start + BATCH])
        return result

    async def _purge_batch(self, batch: Sequence[PurgedEvent]) -> int:
        ids = [e.event_id for e in batch]
        if self._search is not None:
            await self._search.delete(ids)
        rows = await self._reads.events_by_id(ids)
        skeletons: list[Pdu] = []
        for event_id in ids:
            row = rows.get(event_id)
            if row is None or row.redacted_by is not None:
                continue
            version = await self._version(row.room_id)
            if version is not None:
                skeletons.append(Pdu(redact(row.raw, version), event_id, version))
        await self._event_store.mark_redacted_many(
            [(p.event_id, p.event_id, p.raw) for p in skeletons]
        )
        for skeleton in skeletons:
            self._events.replace_cached(skeleton)
        await self._prune_queued(batch)
        changed = await self._store.record_purged(batch, self._clock.time_ms())
        self._horizon = await self._store.horizon()
        self._dirty = True
        if changed:
            self._notifier.notify(sorted({user_key(user) for user, _ in changed}))
        logger.info("purged events count=%d rooms=%d", len(batch), len({e.room_id for e in batch}))
        return len(batch)

    async def _prune_queued(self, batch: Sequence[PurgedEvent]) -> None:
        """Queued copies of the batch's events become their redacted form."""
        if self._outbox is None:
            return
        by_room: dict[RoomId, set[EventId]] = {}
        for event in batch:
            by_room.setdefault(event.room_id, set()).add(event.event_id)
        for room_id, ids in by_room.items():
            version = await self._version(room_id)
            if version is None:
                continue
            replaced = [
                (item_id, redact(pdu, version))
                for item_id, pdu in await self._outbox.queued_pdus(room_id)
                if _event_id(pdu, version) in ids
            ]
            await self._outbox.replace_pdus(replaced)

    async def release_media(self) -> int:
        """Delete the media purged events left unreferenced; returns how many."""
        total = 0
        async with self._lock:
            while refs := await self._store.queued_media(100):
                again = await self._store.still_referenced(refs)
                gone = [r for r in refs if r not in again]
                freed = await self._media.delete_referenced(gone) if self._media and gone else 0
                await self._store.media_done(refs, freed)
                total += len(gone)
                if gone:
                    logger.info("purged media count=%d bytes=%d", len(gone), freed)
        return total

    async def scrub(self) -> None:
        """Leave no copy of purged content in the database files (the search index's once
        the deep scrub is due)."""
        async with self._lock:
            deep = self.deep_scrub_due_in() == 0
            complete = await self._store.scrub(deep=deep, horizon=self._horizon)
            now = self._clock.monotonic()
            if deep and complete:
                self._dirty = False
                self._last_deep = now
            elif deep:
                self._last_deep = now - DEEP_SCRUB_S + SCRUB_RETRY_S
            if self._dirty:
                self._scrub_wanted.set()  # the purger's task runs it when it is due

    async def run(self) -> None:
        """Until cancelled: run the deep scrub that a purge's own scrub left for later, when
        it is due (once the spacing has passed; or again after one that could not finish)."""
        while True:
            self._scrub_wanted.clear()
            due = self.deep_scrub_due_in()
            if due == 0:
                try:
                    await self.scrub()
                except Exception:
                    logger.exception("purge scrub failed")
                    await self._clock.sleep(SCRUB_RETRY_S)
                continue
            waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._scrub_wanted.wait())}
            if due is not None:
                waits.add(asyncio.ensure_future(self._until_due()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for future in waits:
                    future.cancel()

    async def _until_due(self) -> None:
        # Measured when the sleep starts, so a late start never makes the scrub late.
        await self._clock.sleep(self.deep_scrub_due_in() or 0.0)

    def deep_scrub_due_in(self) -> float | None:
        """Seconds until the deep scrub is due (0: now), None when none is waiting."""
        if not self._dirty:
            return None
        if self._last_deep is None:
            return 0.0
        return max(0.0, self._last_deep + DEEP_SCRUB_S - self._clock.monotonic())

    async def _version(self, room_id: RoomId) -> RoomVersion | None:
        version = self._versions.get(room_id)
        if version is None:
            version = get_room_version(await self._reads.room_version(room_id) or "")
            if version is not None:
                self._versions[room_id] = version
        return version


def _event_id(pdu: JsonDict, version: RoomVersion) -> str | None:
    try:
        return compute_event_id(pdu, version)
    except ValueError:
        return None

"""Which events have expired: the one check every read path applies, so an expired event
disappears from all of them at the moment it expires, before the purge job deletes it.

An event is expired when its room's retention (`core.retention`: the room's `m.room.retention`
within the server's limits) or its own self-destruct time has passed on the injected clock, or
when it was purged (its stored JSON is a redacted skeleton, listed in `purged_events`). State
events never expire. `VisibilityService.filter_events` applies it, so `/sync`, `/messages`,
`/context`, `/event`, `/search` and redaction targets all agree; push evaluation skips expired
events; servers are sent expired events only as their redacted form (`redacted`).

Costs on the hot path: the room's policy is read from the cached current state (its parsed
content cached by event ID); timers of `org.matrix.self_destruct` messages and the purge list
are looked up only for the few events that need them (messages carrying that field, and
messages whose content is empty, as a purged skeleton's is).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.events import Pdu
from core.identifiers import EventId, RoomId
from core.redaction import redact
from core.retention import (
    M_ROOM_RETENTION,
    RetentionLimits,
    RetentionPolicy,
    event_expiry,
    read_retention,
    read_self_destruct,
)
from homeserver.caching import CacheRegistry, LruCache
from homeserver.clock import Clock
from homeserver.services.rooms.events import EventService
from homeserver.storage.retention.purge import PurgeStore
from homeserver.storage.retention.tracking import TrackingStore

__all__ = ["EventExpiry"]

_POLICY_CACHE_SIZE: Final = 10_000
_NO_POLICY: Final = RetentionPolicy()


class EventExpiry:
    """Decides whether events have expired (see the module docstring)."""

    def __init__(
        self,
        *,
        limits: RetentionLimits,
        events: EventService,
        timers: TrackingStore,
        purges: PurgeStore,
        clock: Clock,
        caches: CacheRegistry,
    ) -> None:
        self._limits = limits
        self._events = events
        self._timers = timers
        self._purges = purges
        self._clock = clock
        # Event ID of an m.room.retention event -> its policy (`_NO_POLICY` if invalid).
        self._policies: LruCache[EventId, RetentionPolicy] = caches.lru(
            "retention_policies", _POLICY_CACHE_SIZE
        )

    @property
    def limits(self) -> RetentionLimits:
        """The server's retention policy."""
        return self._limits

    async def max_lifetime(self, room_id: RoomId) -> int | None:
        """How long messages of the room live, in ms (None: forever)."""
        if not self._limits.enabled:
            return None
        return self._limits.max_lifetime(await self.policy(room_id))

    async def policy(self, room_id: RoomId) -> RetentionPolicy | None:
        """The room's own `m.room.retention` policy (None: it has none, or an invalid one)."""
        try:
            state = await self._events.current_state(room_id)
        except MatrixError as exc:
            if exc.errcode == M_NOT_FOUND:
                return None
            raise
        event_id = state.get((M_ROOM_RETENTION, ""))
        if event_id is None:
            return None
        policy = self._policies.get(event_id)
        if policy is None:
            pdus = await self._events.get_pdus([event_id])
            policy = (read_retention(pdus[0].content) if pdus else None) or _NO_POLICY
            self._policies.put(event_id, policy)
        return None if policy is _NO_POLICY else policy

    async def expired(
        self, room_id: RoomId, events: Sequence[tuple[EventId, Mapping[str, Any]]]
    ) -> set[EventId]:
        """The events of `room_id` (by ID and JSON) that have expired now."""
        if not events:
            return set()
        now = self._clock.time_ms()
        lifetime = await self.max_lifetime(room_id)
        gone: set[EventId] = set()
        on_read: list[EventId] = []
        empty: list[EventId] = []
        for event_id, raw in events:
            if "state_key" in raw:
                continue
            at = event_expiry(raw, lifetime)
            if at is not None and at <= now:
                gone.add(event_id)
                continue
            if read_self_destruct(raw).after_read_ms is not None:
                on_read.append(event_id)
            content = raw.get("content")
            if not content:
                empty.append(event_id)
        if on_read:
            timers = await self._timers.timers(on_read)
            gone.update(e for e, at in timers.items() if at <= now)
        if empty:
            gone |= await self._purges.purged(empty)
        return gone

    async def expired_pdus(self, room_id: RoomId, pdus: Sequence[Pdu]) -> set[EventId]:
        """`expired` for typed events."""
        return await self.expired(room_id, [(p.event_id, p.raw) for p in pdus])

    async def redacted(
        self, room_id: RoomId, event_ids: Collection[EventId]
    ) -> dict[EventId, JsonDict]:
        """The redacted form of stored events of `room_id` (what another server may have
        of an expired one)."""
        pdus = await self._events.get_pdus(list(event_ids))
        return {p.event_id: redact(p.raw, p.room_version) for p in pdus if p.room_id == room_id}

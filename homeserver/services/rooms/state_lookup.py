"""Cached point lookups into historical room state: a few state keys in many state groups.

State groups never change once written and an event's state group never changes, so both
caches here are plain LRUs (`homeserver.caching.LruCache`) with no invalidation. The state *before* an event is the state
after its newest `prev_event` (which is how `EventService` builds events); an event without
`prev_events` (the create event) has empty state before it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from core.events import Pdu
from core.identifiers import EventId
from homeserver.caching import CacheRegistry, LruCache
from homeserver.storage.rooms.events import StateKey
from homeserver.storage.rooms.reads import EventPosition, RoomReadStore

_STATE_CACHE_SIZE = 200_000
_POSITION_CACHE_SIZE = 100_000


class StateLookup:
    """Answers "which event holds key K in state group G" and "where is event E"."""

    def __init__(self, store: RoomReadStore, caches: CacheRegistry) -> None:
        self._store = store
        # (group, key) -> event ID, or "" when the group has no such key; only the store's
        # event IDs and that marker are put here.
        self._entries: LruCache[tuple[int, StateKey], str] = caches.lru(
            "state_lookup_entries", _STATE_CACHE_SIZE
        )
        self._positions: LruCache[EventId, EventPosition] = caches.lru(
            "state_lookup_positions", _POSITION_CACHE_SIZE
        )

    async def resolve(
        self, groups: Collection[int], keys: Collection[StateKey]
    ) -> dict[int, dict[StateKey, EventId]]:
        """For each group, the event IDs of the `keys` it holds (absent keys are left out)."""
        result: dict[int, dict[StateKey, EventId]] = {g: {} for g in groups}
        missing_groups: set[int] = set()
        missing_keys: set[StateKey] = set()
        for group in result:
            for key in keys:
                cached = self._entries.get((group, key))
                if cached is None:
                    missing_groups.add(group)
                    missing_keys.add(key)
                elif cached:
                    result[group][key] = EventId(cached)
        if missing_groups:
            found = await self._store.resolve_state(missing_groups, missing_keys)
            for group, entries in found.items():
                for key in missing_keys:
                    event_id = entries.get(key)
                    self._entries.put((group, key), event_id or "")
                    if event_id is not None and key in keys:
                        result[group][key] = event_id
        return result

    async def positions(self, event_ids: Iterable[EventId]) -> dict[EventId, EventPosition]:
        """Stream positions and state groups of stored events (unknown ones are left out)."""
        result: dict[EventId, EventPosition] = {}
        missing: list[EventId] = []
        for event_id in event_ids:
            cached = self._positions.get(event_id)
            if cached is None:
                missing.append(event_id)
            else:
                result[event_id] = cached
        if missing:
            for event_id, position in (await self._store.positions(missing)).items():
                self._positions.put(event_id, position)
                result[event_id] = position
        return result

    async def groups_before(self, pdus: Iterable[Pdu]) -> dict[EventId, int | None]:
        """The state group before each event: that of its newest known `prev_event`."""
        pdu_list = list(pdus)
        prev_ids = {p for pdu in pdu_list for p in pdu.prev_event_ids}
        known = await self.positions(prev_ids)
        before: dict[EventId, int | None] = {}
        for pdu in pdu_list:
            prevs = [known[p] for p in pdu.prev_event_ids if p in known]
            newest = max(prevs, key=lambda p: p.stream_ordering, default=None)
            before[pdu.event_id] = newest.state_group if newest is not None else None
        return before

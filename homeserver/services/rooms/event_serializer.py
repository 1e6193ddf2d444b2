"""Stored events in the client format, as every room read path serves them.

Beyond `core.client_events.client_event` this adds what needs the database: a redacted event
carries `unsigned.redacted_because` (the redaction, itself in client format), and a state event
carries `unsigned.prev_content` (the content of the state it replaced, from the state before
it). The stored JSON of a redacted event is already pruned (`RedactionService`), so nothing
here strips content.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.client_events import client_event
from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.events import Pdu
from core.identifiers import EventId, RoomId
from core.room_versions import RoomVersion, get_room_version
from homeserver.clock import Clock
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.storage.rooms.events import StateKey
from homeserver.storage.rooms.reads import RoomEvent, RoomReadStore


class EventSerializer:
    """Formats stored events for clients."""

    def __init__(self, *, store: RoomReadStore, lookup: StateLookup, clock: Clock) -> None:
        self._store = store
        self._lookup = lookup
        self._clock = clock
        self._versions: dict[RoomId, RoomVersion] = {}

    async def room_version(self, room_id: RoomId) -> RoomVersion:
        """The version of a room (they never change, so they are cached).

        Raises:
            MatrixError: `M_NOT_FOUND` for an unknown room or an unsupported version.
        """
        cached = self._versions.get(room_id)
        if cached is not None:
            return cached
        version = get_room_version(await self._store.room_version(room_id) or "")
        if version is None:
            raise MatrixError(M_NOT_FOUND, "Unknown room")
        self._versions[room_id] = version
        return version

    async def pdu(self, event: RoomEvent) -> Pdu:
        """The typed view of a stored event."""
        return Pdu(event.raw, event.event_id, await self.room_version(event.room_id))

    async def serialize(
        self, events: Sequence[RoomEvent], *, include_room_id: bool = True
    ) -> list[JsonDict]:
        """Client events for stored events, in the order given."""
        if not events:
            return []
        pdus = [await self.pdu(e) for e in events]
        now = self._clock.time_ms()
        because = await self._redactions(events, now)
        previous = await self._prev_contents([p for p in pdus if p.is_state])
        formatted: list[JsonDict] = []
        for event, pdu in zip(events, pdus, strict=True):
            unsigned: JsonDict = {}
            if event.redacted_by is not None and event.redacted_by in because:
                unsigned["redacted_because"] = because[event.redacted_by]
            if pdu.event_id in previous:
                unsigned["prev_content"] = previous[pdu.event_id]
            formatted.append(
                client_event(pdu, now_ms=now, unsigned=unsigned, include_room_id=include_room_id)
            )
        return formatted

    async def _redactions(self, events: Sequence[RoomEvent], now: int) -> dict[EventId, JsonDict]:
        ids = {e.redacted_by for e in events if e.redacted_by is not None}
        if not ids:
            return {}
        found = await self._store.events_by_id(ids)
        return {
            event_id: client_event(await self.pdu(row), now_ms=now)
            for event_id, row in found.items()
        }

    async def _prev_contents(self, state_pdus: Sequence[Pdu]) -> dict[EventId, JsonDict]:
        """`prev_content` of each state event that replaced earlier state."""
        if not state_pdus:
            return {}
        before = await self._lookup.groups_before(state_pdus)
        groups = {g for g in before.values() if g is not None}
        keys: set[StateKey] = {k for k in (p.state_pair() for p in state_pdus) if k is not None}
        resolved = await self._lookup.resolve(groups, keys)
        replaced: dict[EventId, EventId] = {}
        for pdu in state_pdus:
            group, key = before.get(pdu.event_id), pdu.state_pair()
            if group is not None and key is not None and key in resolved.get(group, {}):
                replaced[pdu.event_id] = resolved[group][key]
        rows = await self._store.events_by_id(replaced.values())
        contents: dict[EventId, JsonDict] = {}
        for event_id, previous_id in replaced.items():
            row = rows.get(previous_id)
            content = row.raw.get("content") if row is not None else None
            if isinstance(content, dict):
                contents[event_id] = content
        return contents

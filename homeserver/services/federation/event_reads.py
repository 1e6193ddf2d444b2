"""What other servers may read of our rooms (Server-Server API "Retrieving events",
"Backfilling and retrieving missing events", "Room State", "Authorization"): one event,
the state (or its IDs) at an event, an event's auth chain, backfill, missing events, and the
event nearest a time (`timestamp_to_event`).

Access: the room's server ACL must allow the requesting server, and that server must have a
user in the room (joined or invited) in its current state, or the room must be
`world_readable`; otherwise `M_FORBIDDEN`. Rejected events are never served.
"""

from __future__ import annotations

from typing import Final

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import M_ROOM_HISTORY_VISIBILITY, M_ROOM_MEMBER, Membership
from core.events import Pdu
from core.identifiers import EventId, RoomId, ServerName, server_name_of
from homeserver.clock import Clock
from homeserver.services.common.params import checked_event_id, checked_room_id
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.membership_served import auth_chain_of
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.history import HistoryStore

__all__ = ["EventReads"]

MAX_BACKFILL: Final = 100
MAX_MISSING: Final = 50
_PRESENT: Final = (Membership.JOIN, Membership.INVITE)


class EventReads:
    """Serves events and state to servers in the room."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        events: EventService,
        inbound: InboundEvents,
        history: HistoryStore,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._events = events
        self._inbound = inbound
        self._history = history
        self._clock = clock

    async def _allowed(self, origin: ServerName, room_id: RoomId) -> None:
        await self._inbound.acls.check(origin, room_id)
        state = await self._events.current_state(room_id)
        pdus = await self._inbound.states.pdu_map(state)
        visibility = pdus.get((M_ROOM_HISTORY_VISIBILITY, ""))
        if visibility is not None and visibility.content.get("history_visibility") == (
            "world_readable"
        ):
            return
        for (kind, key), pdu in pdus.items():
            if (
                kind == M_ROOM_MEMBER
                and server_name_of(key) == origin
                and pdu.membership in _PRESENT
            ):
                return
        raise MatrixError(M_FORBIDDEN, "Your server is not in this room")

    async def _event_in(self, room_id: RoomId | None, event_id: str) -> Pdu:
        found = await self._events.get_pdus([checked_event_id(event_id)])
        if not found or (room_id is not None and found[0].room_id != room_id):
            raise MatrixError(M_NOT_FOUND, "Unknown event")
        return found[0]

    def _envelope(self, pdus: list[JsonDict]) -> JsonDict:
        return {
            "origin": self._server_name,
            "origin_server_ts": self._clock.time_ms(),
            "pdus": pdus,
        }

    async def event(self, origin: ServerName, event_id: str) -> JsonDict:
        """`GET /event/{eventId}`."""
        pdu = await self._event_in(None, event_id)
        await self._allowed(origin, pdu.room_id)
        return self._envelope([pdu.raw])

    async def state_ids(
        self, origin: ServerName, room_id: str, event_id: str | None
    ) -> tuple[list[Pdu], list[Pdu]]:
        """The state before `event_id` and its auth chain."""
        room = checked_room_id(room_id)
        await self._allowed(origin, room)
        if event_id is None:
            raise MatrixError(M_INVALID_PARAM, "Missing event_id")
        pdu = await self._event_in(room, event_id)
        before = await self._inbound.state_before(origin, pdu)
        state = await self._events.get_pdus(list(before.values()))
        return state, await auth_chain_of(self._events, list(before.values()))

    async def event_auth(self, origin: ServerName, room_id: str, event_id: str) -> JsonDict:
        """`GET /event_auth/{roomId}/{eventId}`."""
        room = checked_room_id(room_id)
        await self._allowed(origin, room)
        pdu = await self._event_in(room, event_id)
        return {"auth_chain": [p.raw for p in await auth_chain_of(self._events, [pdu.event_id])]}

    async def backfill(
        self, origin: ServerName, room_id: str, from_ids: list[str], limit: int
    ) -> JsonDict:
        """`GET /backfill/{roomId}`: the given events and their ancestors, newest first."""
        room = checked_room_id(room_id)
        await self._allowed(origin, room)
        start = [checked_event_id(e) for e in from_ids]
        found = await self._walk_back(room, start, set(), max(0, min(limit, MAX_BACKFILL)))
        return self._envelope([p.raw for p in sorted(found, key=lambda p: -p.depth)])

    async def timestamp_to_event(
        self, origin: ServerName, room_id: str, ts: int, forwards: bool
    ) -> JsonDict:
        """`GET /timestamp_to_event/{roomId}`: the first timeline event at or after `ts`
        (`forwards`), or the last at or before it."""
        room = checked_room_id(room_id)
        await self._allowed(origin, room)
        found = await self._history.nearest(room, ts, forwards)
        if found is None:
            way = "forward" if forwards else "backward"
            raise MatrixError(M_NOT_FOUND, f"Unable to find event from {ts} in {way} direction")
        return {"event_id": found.event_id, "origin_server_ts": found.origin_server_ts}

    async def missing_events(self, origin: ServerName, room_id: str, body: JsonDict) -> JsonDict:
        """`POST /get_missing_events/{roomId}`: ancestors of `latest_events` down to
        `earliest_events`, oldest first."""
        room = checked_room_id(room_id)
        await self._allowed(origin, room)
        latest = body.get("latest_events")
        earliest = body.get("earliest_events", [])
        limit = body.get("limit", 10)
        if (
            not isinstance(latest, list)
            or not isinstance(earliest, list)
            or not isinstance(limit, int)
            or not all(isinstance(e, str) for e in [*latest, *earliest])
        ):
            raise MatrixError(M_INVALID_PARAM, "Bad get_missing_events request")
        stop = {EventId(e) for e in earliest} | {EventId(e) for e in latest}
        prevs = [p for e in await self._events.get_pdus(latest) for p in e.prev_event_ids]
        found = await self._walk_back(room, prevs, stop, max(0, min(limit, MAX_MISSING)))
        return {"events": [p.raw for p in sorted(found, key=lambda p: p.depth)]}

    async def _walk_back(
        self, room: RoomId, start: list[EventId], stop: set[EventId], limit: int
    ) -> list[Pdu]:
        found: dict[EventId, Pdu] = {}
        frontier = [e for e in start if e not in stop]
        while frontier and len(found) < limit:
            pdus = await self._events.get_pdus(frontier)
            nxt: list[EventId] = []
            for pdu in sorted(pdus, key=lambda p: -p.depth):
                if pdu.room_id != room or pdu.event_id in found or len(found) >= limit:
                    continue
                found[pdu.event_id] = pdu
                nxt.extend(p for p in pdu.prev_event_ids if p not in stop and p not in found)
            frontier = list(dict.fromkeys(nxt))
        return list(found.values())

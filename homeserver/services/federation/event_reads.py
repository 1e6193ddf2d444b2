"""What other servers may read of our rooms (Server-Server API "Retrieving events",
"Backfilling and retrieving missing events", "Room State", "Authorization"): one event,
the state (or its IDs) at an event, an event's auth chain, backfill, missing events, and the
event nearest a time (`timestamp_to_event`).

Access: the room's server ACL must allow the requesting server, and that server must have a
user in the room (joined or invited) in its current state, or the room must be
`world_readable`; otherwise `M_FORBIDDEN`. Rejected events are never served.

History visibility: `/backfill`, `/get_missing_events` and `/event` serve an event whole only
if the requesting server may see it (`core.history_visibility.server_may_see`, judged on the
state after the event: its visibility setting and the memberships of that server's users);
otherwise they serve it redacted, which keeps what the event graph and the auth rules need
(IDs, type, sender, state key, hashes, signatures, the auth-relevant content) and nothing of
what was said. An event whose state we do not hold (an outlier: state or auth chain that a
join or a gap brought) is served whole, as `/state` and `/event_auth` serve it anyway. An
expired message (retention, self-destruct: `rooms.expiry`) is served redacted to everyone.

State: `/state` and `/state_ids` answer the state *before* the event; before the create event
(no `prev_events`) that state is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from core.errors import (
    M_FORBIDDEN,
    M_INVALID_PARAM,
    M_MISSING_PARAM,
    M_NOT_FOUND,
    JsonDict,
    MatrixError,
)
from core.event_types import M_ROOM_HISTORY_VISIBILITY, M_ROOM_MEMBER, Membership
from core.events import Pdu
from core.history_visibility import (
    WORLD_READABLE,
    membership_of,
    server_may_see,
    visibility_of,
)
from core.identifiers import EventId, RoomId, ServerName, server_name_of
from core.redaction import redact
from homeserver.clock import Clock
from homeserver.services.common.params import checked_event_id, checked_room_id
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.membership_served import auth_chain_of
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.storage.rooms.events import StateIds, StateKey
from homeserver.storage.rooms.history import HistoryStore
from homeserver.storage.rooms.reads import RoomReadStore

__all__ = ["EventReads"]

MAX_BACKFILL: Final = 100
MAX_MISSING: Final = 50
_PRESENT: Final = (Membership.JOIN, Membership.INVITE)
_VISIBILITY_KEY: Final[StateKey] = (M_ROOM_HISTORY_VISIBILITY, "")


class EventReads:
    """Serves events and state to servers in the room."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        events: EventService,
        inbound: InboundEvents,
        history: HistoryStore,
        room_reads: RoomReadStore,
        clock: Clock,
        expiry: EventExpiry | None = None,
    ) -> None:
        self._server_name = server_name
        self._events = events
        self._inbound = inbound
        self._history = history
        self._room_reads = room_reads
        self._clock = clock
        self._expiry = expiry

    async def _allowed(self, origin: ServerName, room_id: RoomId) -> None:
        await self._inbound.acls.check(origin, room_id)
        state = await self._events.current_state(room_id)
        pdus = await self._inbound.states.pdu_map(_server_view_keys(state, origin))
        visibility = pdus.get(_VISIBILITY_KEY)
        if visibility_of(visibility.content if visibility else None) == WORLD_READABLE:
            return
        for (kind, _), pdu in pdus.items():
            if kind == M_ROOM_MEMBER and pdu.membership in _PRESENT:
                return
        raise MatrixError(M_FORBIDDEN, "Your server is not in this room")

    async def _served(self, origin: ServerName, pdus: Sequence[Pdu]) -> list[JsonDict]:
        """`pdus` as `origin` may have them: whole if it may see them and they have not
        expired, else redacted."""
        hidden = await self._hidden_from(origin, pdus)
        if self._expiry is not None:
            for room_id in {p.room_id for p in pdus}:
                in_room = [p for p in pdus if p.room_id == room_id]
                hidden |= await self._expiry.expired_pdus(room_id, in_room)
        return [redact(p.raw, p.room_version) if p.event_id in hidden else p.raw for p in pdus]

    async def _hidden_from(self, origin: ServerName, pdus: Sequence[Pdu]) -> set[EventId]:
        """The events of `pdus` that `origin` may not see (see the module docstring)."""
        views = await self._views_after(origin, pdus)
        wanted = list({e for view in views.values() for e in view.values()})
        values = {p.event_id: p for p in await self._events.get_pdus(wanted)}
        hidden: set[EventId] = set()
        for event_id, view in views.items():
            visibility: Mapping[str, object] | None = None
            memberships: list[str] = []
            for key, held_id in view.items():
                held = values.get(held_id)
                content = held.content if held is not None else None
                if key == _VISIBILITY_KEY:
                    visibility = content
                else:
                    memberships.append(membership_of(content))
            if not server_may_see(visibility_of(visibility), memberships):
                hidden.add(event_id)
        return hidden

    async def _views_after(
        self, origin: ServerName, pdus: Sequence[Pdu]
    ) -> dict[EventId, StateIds]:
        """For each event of `pdus` whose state we hold, what decides whether `origin` may
        see it in the state after it (`_server_view_keys`)."""
        positions = await self._room_reads.positions(p.event_id for p in pdus)
        by_group: dict[int, StateIds] = {}
        views: dict[EventId, StateIds] = {}
        for pdu in pdus:
            position = positions.get(pdu.event_id)
            if position is None:
                # Not in the timeline: a soft-failed event has a state, an outlier none.
                state = await self._inbound.states.state_after(pdu.event_id)
                if state is not None:
                    views[pdu.event_id] = _server_view_keys(state, origin)
                continue
            group = position.state_group
            if group not in by_group:
                state = await self._events.state_ids_for_group(group)
                by_group[group] = _server_view_keys(state, origin)
            views[pdu.event_id] = by_group[group]
        return views

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
        return self._envelope(await self._served(origin, [pdu]))

    async def state_ids(
        self, origin: ServerName, room_id: str, event_id: str | None
    ) -> tuple[list[Pdu], list[Pdu]]:
        """The state before `event_id` and its auth chain."""
        room = checked_room_id(room_id)
        await self._allowed(origin, room)
        if event_id is None:
            raise MatrixError(M_MISSING_PARAM, "Missing event_id")
        pdu = await self._event_in(room, event_id)
        if not pdu.prev_event_ids:
            return [], []  # the create event: nothing comes before it
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
        return self._envelope(await self._served(origin, sorted(found, key=lambda p: -p.depth)))

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
        return {"events": await self._served(origin, sorted(found, key=lambda p: p.depth))}

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


def _server_view_keys(state: Mapping[StateKey, EventId], server: ServerName) -> StateIds:
    """The part of `state` that decides what `server` may see: the history visibility
    setting and the membership of each of its users."""
    return {
        (kind, key): event_id
        for (kind, key), event_id in state.items()
        if (kind, key) == _VISIBILITY_KEY
        or (kind == M_ROOM_MEMBER and server_name_of(key) == server)
    }

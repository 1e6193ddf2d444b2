"""Reading a room: one event, its state, its members.

Every path goes through `VisibilityService`: a single event is served only if the history
visibility rules let the requester see it (otherwise it is "not found", as the spec asks, so
that hidden events do not reveal their existence); state and members are served to joined
members as of now, to departed members as of their departure, and to anyone when the room is
`world_readable`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import M_ROOM_MEMBER, Membership
from core.history_visibility import membership_of
from core.identifiers import EventId, RoomId
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.event_serializer import EventSerializer
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.room_tokens import parse_position
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.services.rooms.visibility import Placed, RoomAccess, VisibilityService
from homeserver.storage.rooms.events import EventStore, StateIds
from homeserver.storage.rooms.reads import RoomEvent, RoomReadStore

MEMBERSHIPS: Final = Membership.ALL


class RoomReadService:
    """`/event`, `/state`, `/members` and `/joined_members`."""

    def __init__(
        self,
        *,
        store: RoomReadStore,
        state_store: EventStore,
        events: EventService,
        lookup: StateLookup,
        visibility: VisibilityService,
        serializer: EventSerializer,
    ) -> None:
        self._store = store
        self._state_store = state_store
        self._events = events
        self._lookup = lookup
        self._visibility = visibility
        self._serializer = serializer

    async def get_event(self, requester: Requester, room_id: RoomId, event_id: EventId) -> JsonDict:
        """One event in client format.

        Raises:
            MatrixError: `M_NOT_FOUND` if it does not exist in that room or is hidden from
                the requester by history visibility.
        """
        row = (await self._store.events_by_id([event_id])).get(event_id)
        if row is None or row.room_id != room_id:
            raise MatrixError(M_NOT_FOUND, "Event not found")
        placed = Placed(await self._serializer.pdu(row), row.stream_ordering, row.state_group)
        if not await self._visibility.is_visible(requester.user_id, placed):
            raise MatrixError(M_NOT_FOUND, "Event not found")
        return (await self._serializer.serialize([row]))[0]

    async def get_state(self, requester: Requester, room_id: RoomId) -> list[JsonDict]:
        """The room state the requester may see, as client events."""
        access = await self._visibility.room_access(requester.user_id, room_id)
        state = await self._state(room_id, access)
        return await self._serializer.serialize(await self._rows(state.values()))

    async def get_state_event(
        self,
        requester: Requester,
        room_id: RoomId,
        event_type: str,
        state_key: str,
        whole_event: bool,
    ) -> JsonDict:
        """The content (or, with `whole_event`, the client event) of one piece of state.

        Raises:
            MatrixError: `M_NOT_FOUND` when the room has no such state.
        """
        access = await self._visibility.room_access(requester.user_id, room_id)
        event_id = (await self._state(room_id, access)).get((event_type, state_key))
        rows = await self._rows([event_id] if event_id is not None else [])
        if not rows:
            raise MatrixError(M_NOT_FOUND, "Event not found")
        if whole_event:
            return (await self._serializer.serialize(rows))[0]
        content = rows[0].raw.get("content")
        return dict(content) if isinstance(content, dict) else {}

    async def get_members(
        self,
        requester: Requester,
        room_id: RoomId,
        at: str | None,
        membership: str | None,
        not_membership: str | None,
    ) -> JsonDict:
        """`{"chunk": [member events]}` as of now, of `at`, or of the requester's departure.

        Args:
            at: A timeline token; the members are those of the state after the last event
                before it (capped at the requester's departure).
            membership: Keep only this membership...
            not_membership: ...or, together with `membership`, also every membership but this.
        """
        for value in (membership, not_membership):
            if value is not None and value not in MEMBERSHIPS:
                raise MatrixError(M_INVALID_PARAM, "Unknown membership")
        position = parse_position(at) if at is not None else None
        access = await self._visibility.room_access(requester.user_id, room_id)
        if position is None:
            state = await self._state(room_id, access)
        else:
            if access.upto is not None:
                position = min(position, access.upto)
            group = await self._store.group_at(room_id, position)
            state = await self._state_store.state_ids_for_group(group)
        rows = await self._rows(v for (t, _), v in state.items() if t == M_ROOM_MEMBER)
        kept = [r for r in rows if _wanted(_membership(r), membership, not_membership)]
        return {"chunk": await self._serializer.serialize(kept)}

    async def get_joined_members(self, requester: Requester, room_id: RoomId) -> JsonDict:
        """`{"joined": {user_id: {display_name?, avatar_url?}}}` of the current state.

        Raises:
            MatrixError: `M_FORBIDDEN` unless the requester is joined (or the room is
                `world_readable`).
        """
        access = await self._visibility.room_access(requester.user_id, room_id)
        if access.upto is not None:
            raise MatrixError(M_FORBIDDEN, "You aren't a member of the room")
        state = await self._events.current_state(room_id)
        rows = await self._rows(v for (t, _), v in state.items() if t == M_ROOM_MEMBER)
        joined: JsonDict = {}
        for row in rows:
            if _membership(row) != Membership.JOIN:
                continue
            content = row.raw.get("content") or {}
            member: JsonDict = {}
            if isinstance(content.get("displayname"), str):
                member["display_name"] = content["displayname"]
            if isinstance(content.get("avatar_url"), str):
                member["avatar_url"] = content["avatar_url"]
            joined[str(row.raw.get("state_key"))] = member
        return {"joined": joined}

    async def _state(self, room_id: RoomId, access: RoomAccess) -> StateIds:
        if access.departure_event_id is None:
            return await self._events.current_state(room_id)
        positions = await self._lookup.positions([access.departure_event_id])
        departure = positions.get(access.departure_event_id)
        group = departure.state_group if departure is not None else None
        return await self._state_store.state_ids_for_group(group)

    async def _rows(self, event_ids: Iterable[EventId]) -> list[RoomEvent]:
        """Stored events by ID, in stream order."""
        found = await self._store.events_by_id(event_ids)
        return sorted(found.values(), key=lambda r: r.stream_ordering)


def _membership(row: RoomEvent) -> str:
    content = row.raw.get("content")
    return membership_of(content if isinstance(content, dict) else None)


def _wanted(value: str, membership: str | None, not_membership: str | None) -> bool:
    """The spec's `membership` / `not_membership` query: an "or" when both are given."""
    if membership is not None and not_membership is not None:
        return value == membership or value != not_membership
    if membership is not None:
        return value == membership
    if not_membership is not None:
        return value != not_membership
    return True

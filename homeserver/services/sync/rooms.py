"""One room's section of a `/sync` response: timeline, state, ephemeral, account data.

Timelines come from the recent-events cache when it covers the range and from the database
otherwise. State is "the state up to the start of the timeline": all of it for a new or
initial room, the changes since the token when the timeline has a gap, nothing otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.client_events import client_event, strip_state_event
from core.errors import JsonDict
from core.event_types import (
    M_ROOM_AVATAR,
    M_ROOM_CANONICAL_ALIAS,
    M_ROOM_CREATE,
    M_ROOM_ENCRYPTION,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_NAME,
    M_ROOM_TOPIC,
)
from core.events import Pdu
from core.filters import Filter, apply_event_fields
from core.identifiers import DeviceId, EventId, RoomId, UserId
from homeserver.clock import Clock
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.recent_events import RecentEvents
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.storage.rooms.events import StateIds
from homeserver.storage.rooms.sync_reads import SyncStore

_INVITE_STATE_TYPES = (
    M_ROOM_CREATE,
    M_ROOM_JOIN_RULES,
    M_ROOM_NAME,
    M_ROOM_AVATAR,
    M_ROOM_CANONICAL_ALIAS,
    M_ROOM_ENCRYPTION,
    M_ROOM_TOPIC,
)


@dataclass(frozen=True, slots=True)
class Timeline:
    """A room timeline slice."""

    events: list[tuple[int, Pdu]]
    limited: bool


class RoomSections:
    """Builds per-room sync sections."""

    def __init__(
        self,
        *,
        store: SyncStore,
        events: EventService,
        recent: RecentEvents,
        visibility: VisibilityService,
        clock: Clock,
    ) -> None:
        self._store = store
        self._visibility = visibility
        self._events = events
        self._recent = recent
        self._clock = clock

    async def timeline(
        self,
        user_id: UserId,
        room_id: RoomId,
        span: tuple[int, int],
        limit: int,
        joined_since: int | None,
    ) -> Timeline:
        """Events of a room in (after, upto] the user may see, newest `limit`, oldest first.

        Args:
            joined_since: The stream position of the user's join when they are joined, which
                lets history visibility skip state lookups for everything after it.
        """
        after, upto = span
        cached = self._recent.events_between(room_id, after, upto, limit)
        if cached is not None:
            events, limited = cached
        else:
            stored, limited = await self._store.room_events(room_id, after, upto, limit)
            ids = [e.event_id for e in stored]
            pdus: dict[EventId, Pdu] = {p.event_id: p for p in await self._events.get_pdus(ids)}
            events = [(e.stream_ordering, pdus[e.event_id]) for e in stored]
        visible = await self._visibility.filter_pdus(user_id, room_id, events, joined_since)
        return Timeline(visible, limited)

    async def state_at(self, room_id: RoomId, position: int) -> StateIds:
        """The room's state after its last event at or before `position`."""
        group = await self._store.state_group_at(room_id, position)
        return await self._events.state_ids_for_group(group)

    async def joined_section(
        self,
        room_id: RoomId,
        user_id: UserId,
        timeline: Timeline,
        state_since: int | None,
        upto: int,
        sync_filter: Filter,
        device_id: DeviceId | None = None,
    ) -> JsonDict:
        """The `rooms.join` entry (without ephemeral and account data, added by the caller).

        Args:
            state_since: The token's event position for an incremental section; None for an
                initial one (full state).
        """
        start = timeline.events[0][0] - 1 if timeline.events else upto
        state_ids: StateIds = {}
        if state_since is None or timeline.limited:
            before = await self.state_at(room_id, start)
            if not before and timeline.events:
                # Nothing before the timeline here (a room joined over federation starts
                # with the join): the state after it, less what the timeline itself sets.
                after = await self.state_at(room_id, timeline.events[-1][0])
                in_timeline = {p.event_id for _, p in timeline.events}
                before = {k: v for k, v in after.items() if v not in in_timeline}
            if state_since is not None:
                previous = await self.state_at(room_id, state_since)
                before = {k: v for k, v in before.items() if previous.get(k) != v}
            state_ids = before
        state_pdus = await self._filtered_state(state_ids, timeline, user_id, sync_filter)
        now = self._clock.time_ms()
        return {
            "timeline": {
                "events": [
                    self._format(p, now, sync_filter, (user_id, device_id))
                    for _, p in timeline.events
                    if sync_filter.room.timeline.matches(p.raw)
                ],
                "limited": timeline.limited,
                "prev_batch": f"t{start}",
            },
            "state": {"events": [self._format(p, now, sync_filter) for p in state_pdus]},
        }

    async def _filtered_state(
        self, state_ids: StateIds, timeline: Timeline, user_id: UserId, sync_filter: Filter
    ) -> list[Pdu]:
        state_filter = sync_filter.room.state
        wanted = dict(state_ids)
        if state_filter.lazy_load_members:
            senders = {p.sender for _, p in timeline.events} | {user_id}
            wanted = {k: v for k, v in wanted.items() if k[0] != M_ROOM_MEMBER or k[1] in senders}
        in_timeline = {p.event_id for _, p in timeline.events}
        ids = [v for v in wanted.values() if v not in in_timeline]
        pdus = await self._events.get_pdus(ids)
        return [p for p in pdus if state_filter.matches(p.raw)]

    async def stripped_state(self, room_id: RoomId, member_event: Pdu | None) -> list[JsonDict]:
        """`invite_state` / `knock_state`: a few stripped state events plus the member event
        (for an invite from another server, the `invite_room_state` it came with; for a knock
        on a room on another server, the `knock_room_state` the resident server answered)."""
        unsigned = member_event.unsigned if member_event else {}
        sent = unsigned.get("invite_room_state", unsigned.get("knock_room_state"))
        if member_event is not None and isinstance(sent, list):
            return [*(e for e in sent if isinstance(e, dict)), strip_state_event(member_event)]
        state = await self._events.current_state(room_id)
        ids = [state[(t, "")] for t in _INVITE_STATE_TYPES if (t, "") in state]
        stripped = [strip_state_event(p) for p in await self._events.get_pdus(ids)]
        if member_event is not None:
            stripped.append(strip_state_event(member_event))
        return stripped

    async def left_section(
        self, room_id: RoomId, user_id: UserId, after: int, leave_at: int, sync_filter: Filter
    ) -> JsonDict:
        """The `rooms.leave` entry: the timeline up to and including the leave."""
        limit = sync_filter.room.timeline_limit
        timeline = await self.timeline(user_id, room_id, (after, leave_at), limit, None)
        return await self.joined_section(room_id, user_id, timeline, None, leave_at, sync_filter)

    def _format(
        self,
        pdu: Pdu,
        now_ms: int,
        sync_filter: Filter,
        viewer: tuple[UserId, DeviceId | None] | None = None,
    ) -> JsonDict:
        if sync_filter.event_format == "federation":
            return dict(pdu.raw)
        unsigned = None
        if viewer is not None and viewer[1] is not None and pdu.sender == viewer[0]:
            txn_id = self._recent.transaction_id(pdu.event_id, viewer[0], viewer[1])
            unsigned = {"transaction_id": txn_id} if txn_id is not None else None
        event = client_event(pdu, now_ms=now_ms, unsigned=unsigned, include_room_id=False)
        return apply_event_fields(event, sync_filter.event_fields)

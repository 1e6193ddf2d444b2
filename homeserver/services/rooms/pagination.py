"""Walking a room's timeline: `/messages` and `/context`.

Positions and tokens are those of `room_tokens` (a token `t{N}` is the gap after every event
with stream ordering <= N). A page is scanned from its start position towards its bound in
batches; each batch is filtered by history visibility (one state lookup per state group, see
`VisibilityService`) and then by the client's `RoomEventFilter`. The scan stops when the page
is full, when the range is exhausted, or after `MAX_SCAN` events, in which case the page may be
short but still carries `end` so the client continues from where the scan stopped.

Departed members read nothing after their departure: their range is capped at it. `end` is
left out exactly when the range is exhausted (the start of the room, the present, the `to`
bound, or the departure), as the spec says.

History from before this server joined a room is not here until asked for: when a page going
backwards (with no `to` bound) reaches the bottom of our timeline before it is full, the
`OlderHistory` port (other servers' `/backfill`, wired when federation is on) places older
events below it and the scan runs on into them, for at most `MAX_FILLS` batches per page. The
start of the room is reached when the port has nothing more to give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import M_ROOM_MEMBER
from core.filters import EventFilter
from core.identifiers import EventId, RoomId, UserId
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.event_serializer import EventSerializer
from homeserver.services.rooms.room_tokens import ROOM_START, parse_position, position_token
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.services.rooms.visibility import Placed, RoomAccess, VisibilityService
from homeserver.storage.rooms.events import EventStore, StateKey
from homeserver.storage.rooms.reads import RoomEvent, RoomReadStore

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 1000
MAX_SCAN: Final = 2000
MAX_FILLS: Final = 3
_BATCH: Final = 100


class OlderHistory(Protocol):
    """Fetches a room's history from before our earliest event."""

    async def fill(self, room_id: RoomId, wanted: int) -> bool:
        """Place a batch of older events (about `wanted`) below the room's timeline;
        whether any were placed."""
        ...


@dataclass(frozen=True, slots=True)
class MessagesQuery:
    """The query of `GET /rooms/{roomId}/messages`.

    Attributes:
        backwards: `dir=b` (newest first) if True, `dir=f` otherwise.
        from_token: Where to start; None for the newest (`b`) or oldest (`f`) event.
        to_token: Where to stop, if anywhere.
        limit: At most this many events.
        event_filter: The client's `RoomEventFilter`.
    """

    backwards: bool
    from_token: str | None = None
    to_token: str | None = None
    limit: int = DEFAULT_LIMIT
    event_filter: EventFilter = field(default_factory=EventFilter)


@dataclass(frozen=True, slots=True)
class Around:
    """The events around one event: `before` newest first, `after` oldest first, and the
    tokens to page on from either end."""

    before: list[RoomEvent]
    after: list[RoomEvent]
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class _Page:
    events: list[RoomEvent]
    position: int  # where the next page in the same direction starts
    exhausted: bool  # nothing is left between `position` and the bound
    reached: int  # the position just past the last event scanned


class PaginationService:
    """Serves pages of a room's timeline under history visibility."""

    def __init__(
        self,
        *,
        store: RoomReadStore,
        state_store: EventStore,
        lookup: StateLookup,
        visibility: VisibilityService,
        serializer: EventSerializer,
    ) -> None:
        self._store = store
        self._state_store = state_store
        self._lookup = lookup
        self._visibility = visibility
        self._serializer = serializer
        self._history: OlderHistory | None = None

    def use_history(self, history: OlderHistory) -> None:
        """Fetch older history through `history` (set once federation is wired)."""
        self._history = history

    async def messages(
        self, requester: Requester, room_id: RoomId, query: MessagesQuery
    ) -> JsonDict:
        """`{"start", "chunk", "end"?, "state"?}` for one page.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed token or limit, `M_FORBIDDEN` if the
                requester may not read the room.
        """
        start = parse_position(query.from_token) if query.from_token is not None else None
        stop = parse_position(query.to_token) if query.to_token is not None else None
        limit = _limit(query.limit)
        access = await self._visibility.room_access(requester.user_id, room_id)
        latest = await self._store.latest_position()
        ceiling = latest if access.upto is None else min(latest, access.upto)
        user_id = requester.user_id
        if query.backwards:
            upper = ceiling if start is None else min(start, ceiling)
            bound = ROOM_START if stop is None else stop
            page = await self._scan(
                user_id, room_id, upper, bound, limit, query.event_filter, backwards=True
            )
            if stop is None:
                page = await self._with_older(user_id, room_id, page, limit, query.event_filter)
            first = upper
        else:
            first = ROOM_START if start is None else start
            upper = ceiling if stop is None else min(stop, ceiling)
            page = await self._scan(
                user_id, room_id, first, upper, limit, query.event_filter, backwards=False
            )
        body: JsonDict = {
            "start": query.from_token or position_token(first),
            "chunk": await self._serializer.serialize(page.events),
        }
        if not page.exhausted:
            body["end"] = position_token(page.position)
        if query.event_filter.lazy_load_members and page.events:
            body["state"] = await self._member_state(page.events[0].state_group, page.events)
        return body

    async def context(
        self,
        requester: Requester,
        room_id: RoomId,
        event_id: EventId,
        limit: int,
        event_filter: EventFilter,
    ) -> JsonDict:
        """Events around one event: `{"event", "events_before", "events_after", "start",
        "end", "state"}`; `limit` is split between before and after.

        Raises:
            MatrixError: `M_NOT_FOUND` if the event is not in the room or hidden from the
                requester, `M_FORBIDDEN` if the requester may not read the room.
        """
        limit = _limit(limit)
        access = await self._visibility.room_access(requester.user_id, room_id)
        row = await self._visible_event(requester.user_id, room_id, event_id)
        before_limit = limit // 2
        around = await self._around(
            requester.user_id, access, row, before_limit, limit - before_limit, event_filter
        )
        last = around.after[-1] if around.after else row
        shown = [*around.before, row, *around.after]
        return {
            "event": (await self._serializer.serialize([row]))[0],
            "events_before": await self._serializer.serialize(around.before),
            "events_after": await self._serializer.serialize(around.after),
            "start": around.start,
            "end": around.end,
            "state": await self._state_at(last.state_group, shown, event_filter),
        }

    async def around(
        self,
        user_id: UserId,
        row: RoomEvent,
        before_limit: int,
        after_limit: int,
        event_filter: EventFilter | None = None,
    ) -> Around:
        """The visible events just before and after `row` (which the caller has shown the
        user may see), within what the user may read of its room.

        Raises:
            MatrixError: `M_FORBIDDEN` if the user may not read the room.
        """
        access = await self._visibility.room_access(user_id, row.room_id)
        filtered = event_filter if event_filter is not None else EventFilter()
        return await self._around(user_id, access, row, before_limit, after_limit, filtered)

    async def _around(
        self,
        user_id: UserId,
        access: RoomAccess,
        row: RoomEvent,
        before_limit: int,
        after_limit: int,
        event_filter: EventFilter,
    ) -> Around:
        """`around` for a user whose access to the room is `access`."""
        room_id = row.room_id
        latest = await self._store.latest_position()
        ceiling = latest if access.upto is None else min(latest, access.upto)
        before = await self._scan(
            user_id,
            room_id,
            min(row.stream_ordering - 1, ceiling),
            ROOM_START,
            _limit(before_limit),
            event_filter,
            backwards=True,
        )
        after = await self._scan(
            user_id,
            room_id,
            row.stream_ordering,
            max(ceiling, row.stream_ordering),
            _limit(after_limit),
            event_filter,
            backwards=False,
        )
        return Around(
            before=before.events,
            after=after.events,
            start=position_token(before.position),
            end=position_token(after.position),
        )

    async def _with_older(
        self,
        user_id: UserId,
        room_id: RoomId,
        page: _Page,
        limit: int,
        event_filter: EventFilter,
    ) -> _Page:
        """`page` run on into history fetched from other servers while it reached the bottom
        of our timeline short of `limit`."""
        events = list(page.events)
        fills = 0
        while page.exhausted and len(events) < limit and self._history is not None:
            if fills == MAX_FILLS:
                return _Page(events, page.reached, False, page.reached)
            fills += 1
            if not await self._history.fill(room_id, limit - len(events)):
                break
            page = await self._scan(
                user_id,
                room_id,
                page.reached,
                ROOM_START,
                limit - len(events),
                event_filter,
                backwards=True,
            )
            events.extend(page.events)
        return _Page(events, page.position, page.exhausted, page.reached)

    async def _visible_event(
        self, user_id: UserId, room_id: RoomId, event_id: EventId
    ) -> RoomEvent:
        row = (await self._store.events_by_id([event_id])).get(event_id)
        if row is None or row.room_id != room_id:
            raise MatrixError(M_NOT_FOUND, "Event not found")
        placed = Placed(await self._serializer.pdu(row), row.stream_ordering, row.state_group)
        if not await self._visibility.is_visible(user_id, placed):
            raise MatrixError(M_NOT_FOUND, "Event not found")
        return row

    async def _scan(
        self,
        user_id: UserId,
        room_id: RoomId,
        start: int,
        bound: int,
        limit: int,
        event_filter: EventFilter,
        *,
        backwards: bool,
    ) -> _Page:
        """Up to `limit` visible, matching events from `start` towards `bound`.

        Backwards covers orderings in (bound, start], newest first; forwards covers
        (start, bound], oldest first.
        """
        found: list[RoomEvent] = []
        position, scanned = start, 0
        if (backwards and start <= bound) or (not backwards and start >= bound):
            return _Page(found, bound, True, start)
        while len(found) < limit and scanned < MAX_SCAN:
            low, high = (bound, position) if backwards else (position, bound)
            rows = await self._store.room_events(room_id, low, high, _BATCH, backwards)
            visible = await self._visible_ids(user_id, room_id, rows)
            for row in rows:
                position = row.stream_ordering - 1 if backwards else row.stream_ordering
                scanned += 1
                if row.event_id in visible and event_filter.matches(row.raw):
                    found.append(row)
                    if len(found) == limit:
                        return _Page(found, position, False, position)
            if len(rows) < _BATCH:
                return _Page(found, bound, True, position)
        return _Page(found, position, False, position)

    async def _visible_ids(
        self, user_id: UserId, room_id: RoomId, rows: Sequence[RoomEvent]
    ) -> set[EventId]:
        placed = [
            Placed(await self._serializer.pdu(r), r.stream_ordering, r.state_group) for r in rows
        ]
        visible = await self._visibility.filter_events(user_id, room_id, placed)
        return {p.pdu.event_id for p in visible}

    async def _member_state(self, group: int, events: Sequence[RoomEvent]) -> list[JsonDict]:
        """Lazy-loading: the member events of the senders of `events`, as of `group`."""
        keys: set[StateKey] = {(M_ROOM_MEMBER, str(e.raw.get("sender", ""))) for e in events}
        resolved = (await self._lookup.resolve([group], keys)).get(group, {})
        rows = await self._store.events_by_id(resolved.values())
        return await self._serializer.serialize(
            sorted(rows.values(), key=lambda r: r.stream_ordering)
        )

    async def _state_at(
        self, group: int, shown: Sequence[RoomEvent], event_filter: EventFilter
    ) -> list[JsonDict]:
        """`/context`'s state: the state after the last event returned, filtered."""
        state = await self._state_store.state_ids_for_group(group)
        if event_filter.lazy_load_members:
            senders = {str(e.raw.get("sender", "")) for e in shown}
            state = {k: v for k, v in state.items() if k[0] != M_ROOM_MEMBER or k[1] in senders}
        rows = await self._store.events_by_id(state.values())
        kept = [r for r in rows.values() if event_filter.matches(r.raw)]
        return await self._serializer.serialize(sorted(kept, key=lambda r: r.stream_ordering))


def _limit(limit: int) -> int:
    if limit < 0:
        raise MatrixError(M_INVALID_PARAM, "limit must not be negative")
    return min(limit, MAX_LIMIT)

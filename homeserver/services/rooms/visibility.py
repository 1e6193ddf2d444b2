"""History visibility on every read path, and who may read a room at all.

`VisibilityService.filter_events` decides, for a batch of events of one room, which a user may
see under `core.history_visibility`, reading the state *at* each event (the state group after
it; for `m.room.history_visibility` events and the user's own membership events also the state
before it). Work is grouped by state group: one lookup per distinct group, cached forever since
groups never change, and the contents of the few events involved are cached by event ID.

Fast path: while a user's current membership is `join`, every event at or after their join's
stream position was sent while they were joined. That holds because the events of a room are
persisted in DAG order (a new event extends the current tip); `/sync` timelines of joined users
therefore need no state lookups at all.

Expired events (retention, self-destruct, purged: `EventExpiry`) are taken out first, before
any history visibility rule: every read path that filters here drops them at the same moment.

`room_access` is the gate of the room-level endpoints (`/messages`, `/context`, `/state`,
`/members`): joined members read the present, departed members (left or banned after having
joined, and not forgotten) read up to their departure, anyone reads a room that is currently
`world_readable`; everyone else gets `M_FORBIDDEN`. Events themselves are still filtered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import M_FORBIDDEN, M_NOT_FOUND, MatrixError
from core.event_types import M_ROOM_HISTORY_VISIBILITY, M_ROOM_MEMBER, Membership
from core.events import Pdu
from core.history_visibility import (
    WORLD_READABLE,
    StateAtEvent,
    may_see,
    membership_of,
    visibility_of,
)
from core.identifiers import EventId, RoomId, UserId
from homeserver.caching import CacheRegistry, LruCache
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.storage.rooms.events import StateKey
from homeserver.storage.rooms.reads import RoomReadStore

_VALUE_CACHE_SIZE = 100_000
_VISIBILITY_KEY: StateKey = (M_ROOM_HISTORY_VISIBILITY, "")
_DEPARTED = (Membership.LEAVE, Membership.BAN)


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """How a user may read a room right now.

    Attributes:
        membership: The user's current membership, None if they never had one.
        upto: For a departed user, the stream position of their departure: they read nothing
            after it. None when the user may read up to the present.
        departure_event_id: The departed user's last membership event (state is shown as
            of it).
    """

    membership: str | None
    upto: int | None = None
    departure_event_id: EventId | None = None

    @property
    def is_joined(self) -> bool:
        """Whether the user is joined now."""
        return self.membership == Membership.JOIN


@dataclass(frozen=True, slots=True)
class Placed:
    """An event with its stream position and (when known) the state group after it."""

    pdu: Pdu
    stream_ordering: int
    state_group: int | None = None


class VisibilityService:
    """Applies the history visibility rules and the room read gate."""

    def __init__(
        self,
        *,
        store: RoomReadStore,
        lookup: StateLookup,
        events: EventService,
        caches: CacheRegistry,
        expiry: EventExpiry | None = None,
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._events = events
        self._expiry = expiry
        # Event ID of a history visibility or member event -> its setting or membership.
        self._values: LruCache[EventId, str] = caches.lru("visibility_values", _VALUE_CACHE_SIZE)

    async def filter_events(
        self,
        user_id: UserId,
        room_id: RoomId,
        events: Sequence[Placed],
        joined_since: int | None = None,
    ) -> list[Placed]:
        """The events of `room_id` that `user_id` may see, in the order given.

        Args:
            user_id: The reader.
            room_id: The room all `events` belong to.
            events: The candidates; a missing `state_group` is looked up.
            joined_since: The stream position of the user's current join, when the caller
                already knows the user is joined (saves a query); None to look it up.
        """
        if not events:
            return []
        if self._expiry is not None:
            gone = await self._expiry.expired_pdus(room_id, [e.pdu for e in events])
            events = [e for e in events if e.pdu.event_id not in gone]
        if joined_since is None:
            record = await self._store.membership(user_id, room_id)
            if record is not None and record.membership == Membership.JOIN:
                joined_since = record.stream_ordering
        slow = [e for e in events if joined_since is None or e.stream_ordering < joined_since]
        verdicts = await self._decide(user_id, room_id, slow) if slow else {}
        return [e for e in events if verdicts.get(e.pdu.event_id, True)]

    async def filter_pdus(
        self,
        user_id: UserId,
        room_id: RoomId,
        events: Sequence[tuple[int, Pdu]],
        joined_since: int | None = None,
    ) -> list[tuple[int, Pdu]]:
        """`filter_events` for `(stream_ordering, pdu)` pairs, as `/sync` timelines hold them."""
        placed = [Placed(pdu, stream) for stream, pdu in events]
        shown = await self.filter_events(user_id, room_id, placed, joined_since)
        visible = {p.pdu.event_id for p in shown}
        return [(stream, pdu) for stream, pdu in events if pdu.event_id in visible]

    async def is_visible(self, user_id: UserId, placed: Placed) -> bool:
        """Whether `user_id` may see one event."""
        return bool(await self.filter_events(user_id, placed.pdu.room_id, [placed]))

    async def room_access(self, user_id: UserId, room_id: RoomId) -> RoomAccess:
        """How `user_id` may read `room_id` (see the module docstring).

        Raises:
            MatrixError: `M_FORBIDDEN` for users who may not read the room (also for rooms
                that do not exist, so that their existence does not leak).
        """
        record = await self._store.membership(user_id, room_id)
        if record is not None and record.membership == Membership.JOIN:
            return RoomAccess(Membership.JOIN)
        world_readable = await self._currently_world_readable(room_id)
        membership = record.membership if record is not None else None
        if world_readable:
            return RoomAccess(membership)
        if record is not None and not record.forgotten and record.membership in _DEPARTED:
            history = await self._store.membership_history(room_id, user_id)
            if any(m == "join" for _, m in history):
                return RoomAccess(membership, record.stream_ordering, record.event_id)
        raise MatrixError(M_FORBIDDEN, "You aren't a member of the room")

    async def _currently_world_readable(self, room_id: RoomId) -> bool:
        try:
            state = await self._events.current_state(room_id)
        except MatrixError as exc:
            if exc.errcode == M_NOT_FOUND:
                return False
            raise
        event_id = state.get(_VISIBILITY_KEY)
        if event_id is None:
            return False
        return (await self._values_of([event_id])).get(event_id) == WORLD_READABLE

    async def _decide(
        self, user_id: UserId, room_id: RoomId, events: Sequence[Placed]
    ) -> dict[EventId, bool]:
        member_key: StateKey = (M_ROOM_MEMBER, user_id)
        groups = await self._groups_after(events)
        special = [e.pdu for e in events if _before_counts(e.pdu, user_id)]
        before = await self._lookup.groups_before(special) if special else {}
        wanted = set(groups.values()) | {g for g in before.values() if g is not None}
        states = await self._states(wanted, member_key)
        last_join = await self._last_join(room_id, user_id)
        verdicts: dict[EventId, bool] = {}
        for placed in events:
            event_id = placed.pdu.event_id
            group = groups.get(event_id)
            if group is None:
                verdicts[event_id] = False  # not a stored event: nothing to show
                continue
            previous: StateAtEvent | None = None
            if event_id in before:
                group_before = before[event_id]
                previous = states[group_before] if group_before is not None else StateAtEvent()
            joined_later = last_join is not None and last_join > placed.stream_ordering
            verdicts[event_id] = may_see(states[group], previous, joined_later)
        return verdicts

    async def _groups_after(self, events: Sequence[Placed]) -> dict[EventId, int]:
        groups: dict[EventId, int] = {
            e.pdu.event_id: e.state_group for e in events if e.state_group is not None
        }
        unknown = [e.pdu.event_id for e in events if e.state_group is None]
        if unknown:
            positions = await self._lookup.positions(unknown)
            groups.update((event_id, p.state_group) for event_id, p in positions.items())
        return groups

    async def _states(self, groups: set[int], member_key: StateKey) -> dict[int, StateAtEvent]:
        resolved = await self._lookup.resolve(groups, (_VISIBILITY_KEY, member_key))
        ids = [i for entries in resolved.values() for i in entries.values()]
        values = await self._values_of(ids)
        states: dict[int, StateAtEvent] = {}
        for group, entries in resolved.items():
            visibility_id = entries.get(_VISIBILITY_KEY)
            member_id = entries.get(member_key)
            states[group] = StateAtEvent(
                visibility=values.get(visibility_id, "shared") if visibility_id else "shared",
                membership=values.get(member_id, Membership.LEAVE)
                if member_id
                else Membership.LEAVE,
            )
        return states

    async def _values_of(self, event_ids: Sequence[EventId]) -> dict[EventId, str]:
        """The visibility setting or membership each history visibility / member event holds."""
        values: dict[EventId, str] = {}
        missing: list[EventId] = []
        for event_id in dict.fromkeys(event_ids):
            cached = self._values.get(event_id)
            if cached is None:
                missing.append(event_id)
            else:
                values[event_id] = cached
        for pdu in await self._events.get_pdus(missing) if missing else []:
            value = (
                visibility_of(pdu.content)
                if pdu.type == M_ROOM_HISTORY_VISIBILITY
                else membership_of(pdu.content)
            )
            # Redaction keeps both fields (every room version), so the value never changes.
            self._values.put(pdu.event_id, value)
            values[pdu.event_id] = value
        return values

    async def _last_join(self, room_id: RoomId, user_id: UserId) -> int | None:
        history = await self._store.membership_history(room_id, user_id)
        joins = [stream for stream, membership in history if membership == Membership.JOIN]
        return max(joins, default=None)


def _before_counts(pdu: Pdu, user_id: UserId) -> bool:
    """Whether the state before `pdu` may also grant visibility (spec: history visibility
    events, and the user's own membership events)."""
    if pdu.type == M_ROOM_HISTORY_VISIBILITY and pdu.state_key == "":
        return True
    return pdu.type == M_ROOM_MEMBER and pdu.state_key == user_id

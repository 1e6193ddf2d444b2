"""The client's view of its rooms, advanced by sync responses (pure; no I/O).

`ClientState.apply_sync(response)` folds one `SyncResponse` into the state: for each room its
membership, current state (the `state` block first, then state events of the timeline, in order),
a bounded tail of the timeline, invite state, account data, unread counts and whether it is
encrypted. It returns a `SyncChanges` saying what moved, which the store persists and the crypto
layer reads (membership changes rotate Megolm sessions).

Invariants: once a room has an `m.room.encryption` algorithm it stays encrypted, whatever later
state says (the spec forbids turning encryption off). A limited timeline drops the old tail
(there is a gap). `next_batch` only moves forward through `apply_sync`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import JsonDict
from core.event_types import (
    M_ROOM_CANONICAL_ALIAS,
    M_ROOM_CREATE,
    M_ROOM_ENCRYPTION,
    M_ROOM_MEMBER,
    M_ROOM_NAME,
    M_ROOM_POWER_LEVELS,
    M_ROOM_TOPIC,
    Membership,
)
from core.power_levels import CREATOR_POWER_LEVEL
from core.room_versions import get_protocol_room_version
from sdk.events import (
    RoomEvent,
    StateEvent,
    StrippedStateEvent,
    parse_room_event,
    parse_stripped_events,
)
from sdk.responses import JoinedRoom, LeftRoom, SyncResponse, Timeline, UnreadNotifications

__all__ = ["ClientState", "Member", "MemberChange", "Room", "SyncChanges"]

StateKey = tuple[str, str]
DEFAULT_TIMELINE_TAIL = 50


@dataclass(frozen=True, slots=True)
class Member:
    """A room member as its `m.room.member` state event describes it."""

    user_id: str
    membership: str
    displayname: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A membership transition seen in a sync (`old` is None for a first sighting)."""

    room_id: str
    user_id: str
    old: str | None
    new: str


@dataclass(frozen=True, slots=True)
class SyncChanges:
    """What one `apply_sync` changed.

    Attributes:
        rooms: Rooms whose record changed in any way.
        state: Per room, the (type, state key) pairs whose current state event changed.
        members: Membership transitions, in the order they were applied.
        newly_encrypted: Rooms that became encrypted in this sync.
        account_data: Global account data types that changed.
    """

    rooms: frozenset[str] = frozenset()
    state: Mapping[str, frozenset[StateKey]] = field(default_factory=dict)
    members: tuple[MemberChange, ...] = ()
    newly_encrypted: frozenset[str] = frozenset()
    account_data: frozenset[str] = frozenset()


class Room:
    """One room as this client sees it. Owned and mutated only by `ClientState`.

    Attributes:
        room_id: The room ID.
        membership: Our membership: `join`, `invite`, `knock` or `leave`.
        state: Current state events by (type, state key).
        invite_state: The stripped state of a pending invite or knock.
        timeline: The most recent timeline events, oldest first (bounded).
        prev_batch: The pagination token before the oldest event of the tail.
        account_data: Room account data by type.
        unread: Unread notification counts.
        encryption: The `m.room.encryption` content once the room is encrypted, else None.
    """

    def __init__(self, room_id: str, *, timeline_tail: int = DEFAULT_TIMELINE_TAIL) -> None:
        self.room_id = room_id
        self.membership = Membership.JOIN
        self.state: dict[StateKey, StateEvent] = {}
        self.invite_state: tuple[StrippedStateEvent, ...] = ()
        self.timeline: deque[RoomEvent] = deque(maxlen=timeline_tail)
        self.prev_batch: str | None = None
        self.account_data: dict[str, JsonDict] = {}
        self.unread = UnreadNotifications()
        self.encryption: JsonDict | None = None

    def __repr__(self) -> str:
        return f"Room(room_id={self.room_id!r}, membership={self.membership!r})"

    @property
    def encrypted(self) -> bool:
        """Whether messages in this room must be encrypted."""
        return self.encryption is not None

    def state_event(self, event_type: str, state_key: str = "") -> StateEvent | None:
        """The current state event of that type and key, if any."""
        return self.state.get((event_type, state_key))

    def _content(self, event_type: str, key: str) -> Any:
        event = self.state_event(event_type)
        if event is not None:
            return event.content.get(key)
        stripped = next(
            (e for e in self.invite_state if e.type == event_type and e.state_key == ""), None
        )
        return stripped.content.get(key) if stripped is not None else None

    @property
    def name(self) -> str | None:
        """The `m.room.name`, if set."""
        value = self._content(M_ROOM_NAME, "name")
        return value if isinstance(value, str) and value else None

    @property
    def topic(self) -> str | None:
        """The `m.room.topic`, if set."""
        value = self._content(M_ROOM_TOPIC, "topic")
        return value if isinstance(value, str) and value else None

    @property
    def canonical_alias(self) -> str | None:
        """The `m.room.canonical_alias` alias, if set."""
        value = self._content(M_ROOM_CANONICAL_ALIAS, "alias")
        return value if isinstance(value, str) and value else None

    @property
    def members(self) -> dict[str, Member]:
        """Every user with an `m.room.member` event, by user ID."""
        found: dict[str, Member] = {}
        for (etype, user_id), event in self.state.items():
            if etype == M_ROOM_MEMBER:
                found[user_id] = _member(user_id, event.content)
        return found

    def member_ids(self, memberships: Iterable[str] = (Membership.JOIN,)) -> list[str]:
        """User IDs of members whose membership is one of `memberships`, sorted."""
        wanted = set(memberships)
        return sorted(m.user_id for m in self.members.values() if m.membership in wanted)

    @property
    def joined_member_ids(self) -> list[str]:
        """Joined users, sorted."""
        return self.member_ids((Membership.JOIN,))

    @property
    def inviter(self) -> str | None:
        """Who sent a pending invite (from the invite state), if known."""
        for event in self.invite_state:
            if event.type == M_ROOM_MEMBER and event.content.get("membership") == Membership.INVITE:
                return event.sender or None
        return None

    def power_level(self, user_id: str) -> int:
        """The user's power level per `m.room.power_levels` (spec defaults when unset).

        In room versions with privileged creators (v12) the creators (the create event's
        sender and `additional_creators`) outrank every level: `CREATOR_POWER_LEVEL`.
        """
        creator = self.state_event(M_ROOM_CREATE)
        if creator is not None and user_id in _privileged_creators(creator):
            return CREATOR_POWER_LEVEL
        event = self.state_event(M_ROOM_POWER_LEVELS)
        if event is None:
            return 100 if creator is not None and creator.sender == user_id else 0
        users = event.content.get("users")
        level = users.get(user_id) if isinstance(users, dict) else None
        if level is None:
            level = event.content.get("users_default", 0)
        return level if isinstance(level, int) else 0

    def display_name(self, own_user_id: str | None = None) -> str:
        """A name to show: the room name, else its alias, else the other members' names."""
        explicit = self.name or self.canonical_alias
        if explicit:
            return explicit
        others = [
            m.displayname or m.user_id
            for m in sorted(self.members.values(), key=lambda m: m.user_id)
            if m.user_id != own_user_id and m.membership in (Membership.JOIN, Membership.INVITE)
        ]
        if not others:
            return "Empty Room"
        shown = ", ".join(others[:5])
        return shown if len(others) <= 5 else f"{shown} and {len(others) - 5} others"


def _member(user_id: str, content: JsonDict) -> Member:
    membership = content.get("membership")
    name, avatar = content.get("displayname"), content.get("avatar_url")
    return Member(
        user_id=user_id,
        membership=membership if isinstance(membership, str) else Membership.LEAVE,
        displayname=name if isinstance(name, str) else None,
        avatar_url=avatar if isinstance(avatar, str) else None,
    )


class _Recorder:
    """Collects the changes of one `apply_sync`."""

    def __init__(self) -> None:
        self.rooms: set[str] = set()
        self.state: dict[str, set[StateKey]] = {}
        self.members: list[MemberChange] = []
        self.newly_encrypted: set[str] = set()
        self.account_data: set[str] = set()

    def freeze(self) -> SyncChanges:
        return SyncChanges(
            rooms=frozenset(self.rooms),
            state={room: frozenset(keys) for room, keys in self.state.items()},
            members=tuple(self.members),
            newly_encrypted=frozenset(self.newly_encrypted),
            account_data=frozenset(self.account_data),
        )


class ClientState:
    """Everything the client knows from sync: the next token, rooms and global account data.

    Attributes:
        user_id: Our user ID, once logged in.
        next_batch: The token to sync from next, or None before the first sync.
        rooms: Rooms by ID (every membership, `leave` included).
        account_data: Global account data by type.
    """

    def __init__(
        self, user_id: str | None = None, *, timeline_tail: int = DEFAULT_TIMELINE_TAIL
    ) -> None:
        self.user_id = user_id
        self.next_batch: str | None = None
        self.rooms: dict[str, Room] = {}
        self.account_data: dict[str, JsonDict] = {}
        self._timeline_tail = timeline_tail

    def room(self, room_id: str) -> Room | None:
        """The room, if we know it."""
        return self.rooms.get(room_id)

    def rooms_with(self, membership: str) -> list[Room]:
        """Rooms where our membership is `membership`, sorted by ID."""
        return [self.rooms[r] for r in sorted(self.rooms) if self.rooms[r].membership == membership]

    def is_encrypted(self, room_id: str) -> bool:
        """Whether the room is known to be encrypted."""
        room = self.rooms.get(room_id)
        return room is not None and room.encrypted

    def mark_encrypted(self, room_id: str, content: JsonDict) -> None:
        """Record a room's `m.room.encryption` content learnt outside sync (before its first
        sync, a send asked the server). Ignored unless it names an algorithm."""
        algorithm = content.get("algorithm")
        room = self._room(room_id)
        if isinstance(algorithm, str) and algorithm and room.encryption is None:
            room.encryption = dict(content)

    def _room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = Room(room_id, timeline_tail=self._timeline_tail)
        return room

    def apply_sync(self, response: SyncResponse) -> SyncChanges:
        """Fold one sync response into the state and report what changed."""
        changes = _Recorder()
        for event in response.account_data:
            self.account_data[event.type] = event.content
            changes.account_data.add(event.type)
        for room_id, joined in response.rooms.join.items():
            self._apply_room(self._room(room_id), "join", joined, changes)
        for room_id, invited in response.rooms.invite.items():
            room = self._room(room_id)
            room.membership, room.invite_state = Membership.INVITE, invited.invite_state
            changes.rooms.add(room_id)
        for room_id, knocked in response.rooms.knock.items():
            room = self._room(room_id)
            room.membership, room.invite_state = Membership.KNOCK, knocked.invite_state
            changes.rooms.add(room_id)
        for room_id, left in response.rooms.leave.items():
            self._apply_room(self._room(room_id), "leave", left, changes)
        self.next_batch = response.next_batch
        return changes.freeze()

    def _apply_room(
        self, room: Room, membership: str, section: JoinedRoom | LeftRoom, changes: _Recorder
    ) -> None:
        changes.rooms.add(room.room_id)
        room.membership = membership
        room.invite_state = ()
        for event in section.state:
            self._set_state(room, event, changes)
        self._apply_timeline(room, section.timeline, changes)
        for data in section.account_data:
            room.account_data[data.type] = data.content
        if isinstance(section, JoinedRoom):
            room.unread = section.unread_notifications

    def _apply_timeline(self, room: Room, timeline: Timeline, changes: _Recorder) -> None:
        if timeline.limited:
            room.timeline.clear()
        if timeline.limited or not room.timeline:
            room.prev_batch = timeline.prev_batch
        seen = {e.event_id for e in room.timeline}
        for event in timeline.events:
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            room.timeline.append(event)
            if isinstance(event, StateEvent):
                self._set_state(room, event, changes)

    def _set_state(self, room: Room, event: StateEvent, changes: _Recorder) -> None:
        key = (event.type, event.state_key)
        previous = room.state.get(key)
        if previous is not None and previous.event_id == event.event_id:
            return
        room.state[key] = event
        changes.state.setdefault(room.room_id, set()).add(key)
        if event.type == M_ROOM_MEMBER:
            old = previous.content.get("membership") if previous is not None else None
            new = _member(event.state_key, event.content).membership
            if old != new:
                changes.members.append(
                    MemberChange(
                        room.room_id, event.state_key, old if isinstance(old, str) else None, new
                    )
                )
        elif event.type == M_ROOM_ENCRYPTION and event.state_key == "":
            algorithm = event.content.get("algorithm")
            if isinstance(algorithm, str) and algorithm and room.encryption is None:
                room.encryption = dict(event.content)
                changes.newly_encrypted.add(room.room_id)

    def everything(self) -> SyncChanges:
        """A `SyncChanges` naming every room, state event and account data type (to persist
        the whole state, e.g. after a failed write)."""
        return SyncChanges(
            rooms=frozenset(self.rooms),
            state={r: frozenset(room.state) for r, room in self.rooms.items()},
            account_data=frozenset(self.account_data),
        )

    def iter_state_events(self, room_id: str) -> Iterator[StateEvent]:
        """The current state events of a room (for persistence)."""
        room = self.rooms.get(room_id)
        return iter(room.state.values()) if room is not None else iter(())

    def room_record(self, room_id: str) -> JsonDict:
        """The room's non-state fields as JSON (for persistence; `load_room` reverses it)."""
        room = self.rooms[room_id]
        return {
            "membership": room.membership,
            "invite_state": [
                {"type": e.type, "state_key": e.state_key, "sender": e.sender, "content": e.content}
                for e in room.invite_state
            ],
            "timeline": [e.raw for e in room.timeline if e.raw],
            "prev_batch": room.prev_batch,
            "account_data": room.account_data,
            "unread": [room.unread.notification_count, room.unread.highlight_count],
            "encryption": room.encryption,
        }

    def load_room(self, room_id: str, record: JsonDict, state: Iterable[JsonDict]) -> Room:
        """Restore a room from `room_record` output and its raw state events."""
        room = self._room(room_id)
        room.membership = str(record.get("membership", Membership.JOIN))
        room.invite_state = parse_stripped_events(record.get("invite_state"))
        room.prev_batch = record.get("prev_batch")
        room.account_data = dict(record.get("account_data") or {})
        counts = record.get("unread") or [0, 0]
        room.unread = UnreadNotifications(int(counts[0]), int(counts[1]))
        encryption = record.get("encryption")
        room.encryption = dict(encryption) if isinstance(encryption, dict) else None
        room.timeline.clear()
        for raw in record.get("timeline") or []:
            event = parse_room_event(raw, room_id)
            if event is not None:
                room.timeline.append(event)
        for raw in state:
            event = parse_room_event(raw, room_id)
            if isinstance(event, StateEvent):
                room.state[(event.type, event.state_key)] = event
        return room


def _privileged_creators(create: StateEvent) -> frozenset[str]:
    """The room creators if the room's version gives them unlimited power (v12), else none."""
    identifier = create.content.get("room_version", "1")
    version = get_protocol_room_version(identifier) if isinstance(identifier, str) else None
    if version is None or not version.privileged_creators:
        return frozenset()
    extra = create.content.get("additional_creators")
    others = [u for u in extra if isinstance(u, str)] if isinstance(extra, list) else []
    return frozenset({create.sender, *others})

"""Power levels: reading them from room state, and the `m.room.power_levels` auth rule.

This module owns the spec's definitions of a user's power level, the *required power level* of
an event type, the *invite/kick/ban/redact levels* (server-server API, "Definitions") and rule 9
of the room version 10/11 authorisation rules (rule 10 in version 12, which adds 10.4: creators
may not be listed), which governs changes to `m.room.power_levels`. Room creators (v12) outrank
every level a power levels event can hold.
It also decides who may redact whom ("Handling redactions"), which the auth rules deliberately
leave out.

Invariants: every function is pure; a level is always a Python `int` (never `bool`); malformed
values in state that was already accepted read as the spec default rather than raising, while
malformed values in a *new* power levels event are reported by `power_levels_change_error`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from core.event_types import M_ROOM_CREATE, M_ROOM_POWER_LEVELS
from core.events import Pdu
from core.identifiers import parse_user_id, server_name_of
from core.room_versions import RoomVersion

StateMap = Mapping[tuple[str, str], Pdu]


# The power a room creator holds while the room has no power levels event (rooms v1-v11).
CREATOR_LEVEL_WITHOUT_POWER_LEVELS: Final = 100
# The "infinite" power of room creators in versions with privileged creators (v12): one above
# the largest integer canonical JSON allows, so no level a power levels event can hold reaches it.
CREATOR_POWER_LEVEL: Final = 2**53

# Spec defaults for levels a power levels event leaves out (or when there is none).
NAMED_LEVEL_DEFAULTS: Final[Mapping[str, int]] = {
    "users_default": 0,
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
}
_MAP_PROPERTIES: Final = ("events", "notifications")

# The appendix's format for stringy levels in room versions without integer power levels.
_STRINGY_INT = re.compile(r"^\s*[+-]?[0-9]+\s*$")


def parse_level(value: object, room_version: RoomVersion) -> int | None:
    """A power level value as an int, or None when it is not a valid level.

    Args:
        value: A value from power levels content.
        room_version: Decides whether integer-valued strings are accepted (versions before 10).

    Returns:
        The level, or None for booleans, floats, non-numeric strings and anything else.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if (
        not room_version.integer_power_levels
        and isinstance(value, str)
        and _STRINGY_INT.match(value)
    ):
        return int(value)
    return None


def _level_or(value: object, default: int, room_version: RoomVersion | None) -> int:
    # With no room version the strictest reading applies: integers only.
    if room_version is None:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return default
    parsed = parse_level(value, room_version)
    return default if parsed is None else parsed


def get_creator(create_event: Pdu) -> str | None:
    """The room creator: the create event's sender from v11, `content.creator` before."""
    if create_event.room_version.implicit_room_creator:
        return create_event.sender
    creator = create_event.content.get("creator")
    return creator if isinstance(creator, str) else None


def get_creators(create_event: Pdu) -> frozenset[str]:
    """The room creators.

    With privileged creators (v12) they are the create event's sender plus the user IDs in
    `content.additional_creators` (entries that are not strings are ignored: such a create
    event fails the auth rules); before, the one creator of `get_creator`, if any.
    """
    if not create_event.room_version.privileged_creators:
        creator = get_creator(create_event)
        return frozenset() if creator is None else frozenset({creator})
    extra = create_event.content.get("additional_creators")
    others = [u for u in extra if isinstance(u, str)] if isinstance(extra, list) else []
    return frozenset({create_event.sender, *others})


def get_user_power_level(user_id: str, auth_state: StateMap) -> int:
    """The power level of `user_id` given the room state (or auth events) `auth_state`.

    With privileged creators (v12) a creator has `CREATOR_POWER_LEVEL`, whatever the power
    levels say. Otherwise, without an `m.room.power_levels` event the creator has 100 and
    everyone else 0; with one, the user's entry in `users`, else `users_default`, else 0.
    """
    create = auth_state.get((M_ROOM_CREATE, ""))
    if (
        create is not None
        and create.room_version.privileged_creators
        and user_id in get_creators(create)
    ):
        return CREATOR_POWER_LEVEL
    pl_event = auth_state.get((M_ROOM_POWER_LEVELS, ""))
    if pl_event is None:
        if create is not None and get_creator(create) == user_id:
            return CREATOR_LEVEL_WITHOUT_POWER_LEVELS
        return 0
    content = pl_event.content
    version = pl_event.room_version
    default = _level_or(content.get("users_default"), 0, version)
    users = content.get("users")
    if isinstance(users, dict) and user_id in users:
        return _level_or(users[user_id], default, version)
    return default


def get_named_level(name: str, auth_state: StateMap) -> int:
    """One of the top-level levels (`invite`, `kick`, `ban`, `redact`, `*_default`).

    Raises:
        KeyError: If `name` is not a top-level level of power levels content.
    """
    default = NAMED_LEVEL_DEFAULTS[name]
    pl_event = auth_state.get((M_ROOM_POWER_LEVELS, ""))
    if pl_event is None:
        return default
    return _level_or(pl_event.content.get(name), default, pl_event.room_version)


def get_required_level(
    event_type: str,
    is_state: bool,
    power_levels_content: Mapping[str, Any] | None,
    *,
    room_version: RoomVersion | None = None,
) -> int:
    """The *required power level* to send an event of `event_type`.

    Args:
        event_type: The event's type.
        is_state: Whether the event has a state key (selects `state_default` over
            `events_default`).
        power_levels_content: The current power levels content, or None if the room has none.
        room_version: The room's version; None reads integers only, as in versions 10+.

    Returns:
        `events[event_type]` if set, else `state_default` (50) or `events_default` (0).
    """
    content = power_levels_content if power_levels_content is not None else {}
    default_name = "state_default" if is_state else "events_default"
    default = _level_or(content.get(default_name), NAMED_LEVEL_DEFAULTS[default_name], room_version)
    events = content.get("events")
    if isinstance(events, dict) and event_type in events:
        return _level_or(events[event_type], default, room_version)
    return default


def get_event_required_level(event: Pdu, auth_state: StateMap) -> int:
    """`get_required_level` for `event` against the power levels in `auth_state`."""
    pl_event = auth_state.get((M_ROOM_POWER_LEVELS, ""))
    content = pl_event.content if pl_event is not None else None
    return get_required_level(event.type, event.is_state, content, room_version=event.room_version)


def can_apply_redaction(redaction_sender: str, original_sender: str, auth_state: StateMap) -> bool:
    """Whether a received redaction may be applied (room versions 3+, "Handling redactions").

    The auth rules accept redactions without looking at the *redact level*; this check runs
    when both the redaction and its target are known, before the redaction is applied or
    served to clients.

    Returns:
        True if the redaction's sender has at least the redact level, or is on the same server
        as the redacted event's sender.
    """
    if server_name_of(redaction_sender) == server_name_of(original_sender):
        return True
    return get_user_power_level(redaction_sender, auth_state) >= get_named_level(
        "redact", auth_state
    )


def can_redact(user_id: str, original_sender: str, auth_state: StateMap) -> bool:
    """Whether a local client may redact an event sent by `original_sender`.

    The client-server API lets users redact their own events (subject only to the send level
    of `m.room.redaction`, which the auth rules check) and requires the redact level to redact
    anyone else's — even a user on the same server, which `can_apply_redaction` would trust.
    """
    if user_id == original_sender:
        return True
    return get_user_power_level(user_id, auth_state) >= get_named_level("redact", auth_state)


def power_levels_change_error(event: Pdu, auth_state: StateMap) -> str | None:
    """Rule 9 of the authorisation rules: is this new `m.room.power_levels` event allowed?

    Args:
        event: The new power levels event.
        auth_state: The state it is checked against (holding the current power levels, if any).

    Returns:
        None if allowed, else the reason for rejecting it.
    """
    version = event.room_version
    content = event.content
    error = _content_error(content, version)
    if error is not None:
        return error
    create = auth_state.get((M_ROOM_CREATE, ""))
    if version.privileged_creators and create is not None:
        users = content.get("users", {})
        listed = sorted(get_creators(create) & users.keys())
        if listed:
            return f"power levels 'users' may not list the room creator {listed[0]}"
    current = auth_state.get((M_ROOM_POWER_LEVELS, ""))
    if current is None:
        return None  # 9.4: the first power levels event in a room.
    sender_level = get_user_power_level(event.sender, auth_state)
    old = current.content
    for name in NAMED_LEVEL_DEFAULTS:
        error = _named_change_error(name, old, content, sender_level, version)
        if error is not None:
            return error
    maps = _MAP_PROPERTIES if version.limit_notifications_power_levels else ("events",)
    for prop in maps:
        error = _map_change_error(prop, old, content, sender_level, version)
        if error is not None:
            return error
    return _users_change_error(event.sender, old, content, sender_level, version)


def _content_error(content: Mapping[str, Any], version: RoomVersion) -> str | None:
    """Rules 9.1-9.3: the shape of the new content."""
    if version.integer_power_levels:
        for name in NAMED_LEVEL_DEFAULTS:
            if name in content and parse_level(content[name], version) is None:
                return f"power levels property {name!r} is not an integer"
        for prop in _MAP_PROPERTIES:
            if prop in content and not _is_level_map(content[prop], version):
                return f"power levels property {prop!r} is not an object of integers"
    # Synapse and ruma read an absent `users` as empty; only a present one is validated.
    users = content.get("users", {})
    if not _is_level_map(users, version):
        return "power levels 'users' is not an object of integers"
    for user_id in users:
        try:
            parse_user_id(user_id)
        except ValueError:
            return f"power levels 'users' has an invalid user ID {user_id!r}"
    return None


def _is_level_map(value: object, version: RoomVersion) -> bool:
    if not isinstance(value, dict):
        return False
    return all(parse_level(v, version) is not None for v in value.values())


def _lookup(container: Mapping[str, Any], key: str, version: RoomVersion) -> int | None:
    """The parsed level at `key`, None if absent (or unreadable, which reads as absent)."""
    return parse_level(container[key], version) if key in container else None


def _map_of(content: Mapping[str, Any], prop: str) -> Mapping[str, Any]:
    value = content.get(prop)
    return value if isinstance(value, dict) else {}


def _named_change_error(
    name: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    sender_level: int,
    version: RoomVersion,
) -> str | None:
    """Rule 9.5: an added, changed or removed top-level level."""
    before, after = _lookup(old, name, version), _lookup(new, name, version)
    if before == after:
        return None
    if before is not None and before > sender_level:
        return f"cannot change {name!r} from {before}, above your level {sender_level}"
    if after is not None and after > sender_level:
        return f"cannot set {name!r} to {after}, above your level {sender_level}"
    return None


def _map_change_error(
    prop: str,
    old_content: Mapping[str, Any],
    new_content: Mapping[str, Any],
    sender_level: int,
    version: RoomVersion,
) -> str | None:
    """Rules 9.6 and 9.7: entries of `events` or `notifications`."""
    old, new = _map_of(old_content, prop), _map_of(new_content, prop)
    for key in sorted(old.keys() | new.keys()):
        before, after = _lookup(old, key, version), _lookup(new, key, version)
        if before == after:
            continue
        if before is not None and before > sender_level:
            return f"cannot change {prop}[{key!r}] from {before}, above your level {sender_level}"
        if after is not None and after > sender_level:
            return f"cannot set {prop}[{key!r}] to {after}, above your level {sender_level}"
    return None


def _users_change_error(
    sender: str,
    old_content: Mapping[str, Any],
    new_content: Mapping[str, Any],
    sender_level: int,
    version: RoomVersion,
) -> str | None:
    """Rules 9.8 and 9.9: entries of `users`."""
    old, new = _map_of(old_content, "users"), _map_of(new_content, "users")
    for user_id in sorted(old.keys() | new.keys()):
        before, after = _lookup(old, user_id, version), _lookup(new, user_id, version)
        if before == after:
            continue
        # Users may lower themselves; others at or above the sender's level are untouchable.
        if user_id != sender and before is not None and before >= sender_level:
            return f"cannot change the level of {user_id}, at or above your level {sender_level}"
        if after is not None and after > sender_level:
            return f"cannot give {user_id} level {after}, above your level {sender_level}"
    return None

"""The authorisation rules of room versions 10, 11 and 12, and the auth events selection.

Spec: "Room Version 10/11/12 → Authorisation rules" and server-server API "Auth events
selection". Rule numbers in comments and messages refer to the version 10/11 list; the rules
version 12 adds are named "v12 rule N" (its list inserts rule 2, so later numbers shift by
one). Power level reading and rule 9 live in `core.power_levels`, the membership rule in
`core.auth_membership`, the signature of third-party invites in `core.third_party_invite`.

Room version 12 (flag `room_id_from_create_event`) never lists the create event in
`auth_events`: the room ID names it. Callers therefore pass the create event with the auth
events (`check_auth_events_selection(..., create=...)`) or keep it in the state they check
against, as they do for earlier versions.

What the caller owns, because it needs I/O or knowledge beyond one event and a state map:

- "Events must be signed by the server denoted by the `sender`" and rule 4.2 (a
  `join_authorised_via_users_server` join must be signed by that user's server) are checked
  with the signature checks on receipt; here only a non-string authoriser is rejected.
- Rule 2.3 (auth events that were themselves rejected) needs the rejection records.
- Redactions: the auth rules only apply the send level of `m.room.redaction`; whether a
  redaction is *applied* is `core.power_levels.can_apply_redaction`, checked when serving.

Invariants: pure functions; `check_auth` only ever reads the entries of `auth_state` that the
auth events selection names for the event, so the event's own auth events and the full room
state before it are interchangeable inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.auth_base import AUTHORISED_VIA, AuthError, StateKey
from core.auth_membership import check_membership, membership_of
from core.event_types import (
    M_ROOM_CREATE,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_POWER_LEVELS,
    M_ROOM_THIRD_PARTY_INVITE,
    Membership,
)
from core.events import Pdu
from core.identifiers import parse_user_id, server_name_of
from core.power_levels import (
    StateMap,
    can_apply_redaction,
    can_redact,
    get_event_required_level,
    get_named_level,
    get_required_level,
    get_user_power_level,
    power_levels_change_error,
)
from core.room_versions import RoomVersion, get_protocol_room_version

# The level helpers are re-exported so that callers of the auth rules need one import.
__all__ = [
    "AuthError",
    "auth_types_for_event",
    "can_apply_redaction",
    "can_redact",
    "check_auth",
    "check_auth_events_selection",
    "get_named_level",
    "get_required_level",
    "get_user_power_level",
]


def auth_types_for_event(
    event_type: str,
    state_key: str | None,
    sender: str,
    content: Mapping[str, Any],
    room_version: RoomVersion,
) -> list[StateKey]:
    """The state an event's `auth_events` should reference (server-server "Auth events selection").

    Args:
        event_type: The new event's type.
        state_key: Its state key (the target user for `m.room.member`), None if not state.
        sender: Its sender.
        content: Its content.
        room_version: The room's version (decides whether restricted joins exist).

    Returns:
        `(type, state_key)` pairs without duplicates, in the spec's order; empty for
        `m.room.create`. Each is to be included only if the room state has it. The create
        event is not among them in versions whose room ID names it (v12).
    """
    if event_type == M_ROOM_CREATE:
        return []
    keys: list[StateKey] = [(M_ROOM_POWER_LEVELS, ""), (M_ROOM_MEMBER, sender)]
    if not room_version.room_id_from_create_event:
        keys.insert(0, (M_ROOM_CREATE, ""))
    if event_type == M_ROOM_MEMBER and state_key is not None:
        keys.append((M_ROOM_MEMBER, state_key))
        membership = content.get("membership")
        if membership in (Membership.JOIN, Membership.INVITE, Membership.KNOCK):
            keys.append((M_ROOM_JOIN_RULES, ""))
        if membership == Membership.INVITE and "third_party_invite" in content:
            token = _third_party_token(content)
            if token is not None:
                keys.append((M_ROOM_THIRD_PARTY_INVITE, token))
        authoriser = content.get(AUTHORISED_VIA)
        if (
            membership == Membership.JOIN
            and room_version.restricted_join_rule
            and isinstance(authoriser, str)
        ):
            keys.append((M_ROOM_MEMBER, authoriser))
    return list(dict.fromkeys(keys))


def _third_party_token(content: Mapping[str, Any]) -> str | None:
    invite = content.get("third_party_invite")
    signed = invite.get("signed") if isinstance(invite, dict) else None
    token = signed.get("token") if isinstance(signed, dict) else None
    return token if isinstance(token, str) else None


def _selection(event: Pdu) -> list[StateKey]:
    return auth_types_for_event(
        event.type, event.state_key, event.sender, event.content, event.room_version
    )


def check_auth_events_selection(
    event: Pdu, auth_events: Sequence[Pdu], *, create: Pdu | None = None
) -> dict[StateKey, Pdu]:
    """Rules 2.1, 2.2, 2.4 and 2.5 on an event's actual auth events (not on room state).

    Args:
        event: The event being authorised.
        auth_events: The events its `auth_events` reference, already fetched.
        create: The room's create event, named by the room ID, in versions that leave it out
            of `auth_events` (v12); ignored otherwise.

    Returns:
        The auth events keyed by `(type, state_key)`, ready for `check_auth` (with `create`
        added in v12); empty for `m.room.create`, which rule 1 decides on alone.

    Raises:
        AuthError: On duplicates, entries the selection does not name, events of another room,
            or no `m.room.create` among them (v12: no `create`, or not the room ID's).
    """
    if event.type == M_ROOM_CREATE:
        return {}
    allowed = set(_selection(event))
    keyed: dict[StateKey, Pdu] = {}
    for auth_event in auth_events:
        pair = auth_event.state_pair()
        if pair is None or pair not in allowed:
            raise AuthError(
                f"rule 2.2: auth event {auth_event.event_id} is not named by the auth events selection"
            )
        if pair in keyed:
            raise AuthError(f"rule 2.1: duplicate auth events for {pair}")
        if auth_event.room_id != event.room_id:
            raise AuthError(f"rule 2.5: auth event {auth_event.event_id} is from another room")
        keyed[pair] = auth_event
    if event.room_version.room_id_from_create_event:
        if create is None:
            raise AuthError("v12 rule 2: the room's m.room.create event is not known")
        _check_room_id_names_create(event, create)
        keyed[(M_ROOM_CREATE, "")] = create
    elif (M_ROOM_CREATE, "") not in keyed:
        raise AuthError("rule 2.4: no m.room.create event among the auth events")
    return keyed


def check_auth(event: Pdu, auth_state: Mapping[StateKey, Pdu]) -> None:
    """Whether `event` is allowed by its room version's authorisation rules.

    Args:
        event: The event, whose `room_version` selects the rule flags.
        auth_state: Its auth events keyed by `(type, state_key)` (see
            `check_auth_events_selection`), or the room state before it, or the current state.
            Only the entries named by `auth_types_for_event` are read, plus the create event.

    Raises:
        AuthError: With the rule that rejected the event.
    """
    if event.type == M_ROOM_CREATE:
        _check_create(event)
        return
    state = {key: auth_state[key] for key in _selection(event) if key in auth_state}
    create = auth_state.get((M_ROOM_CREATE, ""))
    if create is None:
        raise AuthError("rule 2.4: the room has no m.room.create event")
    if event.room_version.room_id_from_create_event:
        _check_room_id_names_create(event, create)
        state[(M_ROOM_CREATE, "")] = create
    for auth_event in state.values():
        if auth_event.room_id != event.room_id:
            raise AuthError(f"rule 2.5: auth event {auth_event.event_id} is from another room")
    _check_federation(event, create)
    if event.type == M_ROOM_MEMBER:
        check_membership(event, state, create)
        return
    if membership_of(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 5: {event.sender} is not joined to the room")
    if event.type == M_ROOM_THIRD_PARTY_INVITE:
        if get_user_power_level(event.sender, state) < get_named_level("invite", state):
            raise AuthError("rule 6: sender's power level is below the invite level")
        return
    _check_power(event, state)


def _check_room_id_names_create(event: Pdu, create: Pdu) -> None:
    """v12 rule 2: the room ID is the create event's ID with the `!` sigil."""
    if event.room_id != "!" + create.event_id[1:]:
        raise AuthError(f"v12 rule 2: room ID {event.room_id} does not name {create.event_id}")


def _check_federation(event: Pdu, create: Pdu) -> None:
    """Rule 3: `m.federate: false` keeps the room to the creator's server."""
    if create.content.get("m.federate") is not False:
        return
    if server_name_of(event.sender) != server_name_of(create.sender):
        raise AuthError("rule 3: the room does not federate with the sender's server")


def _check_create(event: Pdu) -> None:
    """Rule 1."""
    version = event.room_version
    if event.prev_event_ids:
        raise AuthError("rule 1.1: m.room.create must not have prev_events")
    if version.room_id_from_create_event:
        if "room_id" in event.raw:
            raise AuthError("v12 rule 1.2: m.room.create must not have a room_id")
    elif server_name_of(event.room_id) != server_name_of(event.sender):
        raise AuthError("rule 1.2: room ID and sender are on different servers")
    if "room_version" in event.content:
        room_version = event.content["room_version"]
        if not isinstance(room_version, str) or get_protocol_room_version(room_version) is None:
            raise AuthError(f"rule 1.3: unrecognised room version {room_version!r}")
    if version.privileged_creators and "additional_creators" in event.content:
        _check_additional_creators(event.content["additional_creators"])
    if not version.implicit_room_creator and "creator" not in event.content:
        raise AuthError("rule 1.4: m.room.create content has no creator")


def _check_additional_creators(value: object) -> None:
    """v12 rule 1.4: a list of user IDs, validated as `sender` is."""
    if not isinstance(value, list) or not all(isinstance(user, str) for user in value):
        raise AuthError("v12 rule 1.4: additional_creators is not a list of user IDs")
    for user in value:
        try:
            parse_user_id(user)
        except ValueError as exc:
            raise AuthError(f"v12 rule 1.4: invalid additional creator {user!r}") from exc


def _check_power(event: Pdu, state: StateMap) -> None:
    """Rules 7 to 9, for events other than create, member and third-party invite."""
    sender_level = get_user_power_level(event.sender, state)
    required = get_event_required_level(event, state)
    if required > sender_level:
        raise AuthError(
            f"rule 7: sending {event.type} needs power level {required}, sender has {sender_level}"
        )
    key = event.state_key
    if key is not None and key.startswith("@") and key != event.sender:
        raise AuthError("rule 8: a state key starting with '@' must be the sender's user ID")
    if event.type == M_ROOM_POWER_LEVELS:
        error = power_levels_change_error(event, state)
        if error is not None:
            raise AuthError(f"rule 9: {error}")

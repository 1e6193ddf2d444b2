"""The authorisation rules of room versions 10 and 11, and the auth events selection.

Spec: "Room Version 10/11 → Authorisation rules" and server-server API "Auth events selection".
Rule numbers in comments and messages refer to those lists. Power level reading and rule 9
live in `core.power_levels`; the signature of third-party invites in `core.third_party_invite`.

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
from typing import Any, Final

from core.errors import M_FORBIDDEN, MatrixError
from core.event_types import (
    M_ROOM_CREATE,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_POWER_LEVELS,
    M_ROOM_THIRD_PARTY_INVITE,
    JoinRule,
    Membership,
)
from core.events import Pdu
from core.identifiers import server_name_of
from core.power_levels import (
    StateMap,
    can_apply_redaction,
    can_redact,
    get_creator,
    get_event_required_level,
    get_named_level,
    get_required_level,
    get_user_power_level,
    power_levels_change_error,
)
from core.room_versions import RoomVersion, get_room_version
from core.third_party_invite import signed_by_any_key

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


AUTHORISED_VIA: Final = "join_authorised_via_users_server"

StateKey = tuple[str, str]


class AuthError(MatrixError):
    """An event is not allowed by the authorisation rules (always `M_FORBIDDEN`)."""

    def __init__(self, message: str) -> None:
        super().__init__(M_FORBIDDEN, message)


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
        `m.room.create`. Each is to be included only if the room state has it.
    """
    if event_type == M_ROOM_CREATE:
        return []
    keys: list[StateKey] = [(M_ROOM_CREATE, ""), (M_ROOM_POWER_LEVELS, ""), (M_ROOM_MEMBER, sender)]
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


def check_auth_events_selection(event: Pdu, auth_events: Sequence[Pdu]) -> dict[StateKey, Pdu]:
    """Rules 2.1, 2.2, 2.4 and 2.5 on an event's actual auth events (not on room state).

    Args:
        event: The event being authorised.
        auth_events: The events its `auth_events` reference, already fetched.

    Returns:
        The auth events keyed by `(type, state_key)`, ready for `check_auth`; empty for
        `m.room.create`, which rule 1 decides on alone.

    Raises:
        AuthError: On duplicates, entries the selection does not name, events of another room,
            or no `m.room.create` among them.
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
    if (M_ROOM_CREATE, "") not in keyed:
        raise AuthError("rule 2.4: no m.room.create event among the auth events")
    return keyed


def check_auth(event: Pdu, auth_state: Mapping[StateKey, Pdu]) -> None:
    """Whether `event` is allowed by its room version's authorisation rules.

    Args:
        event: The event, whose `room_version` selects the rule flags.
        auth_state: Its auth events keyed by `(type, state_key)` (see
            `check_auth_events_selection`), or the room state before it, or the current state.
            Only the entries named by `auth_types_for_event` are read.

    Raises:
        AuthError: With the rule that rejected the event.
    """
    if event.type == M_ROOM_CREATE:
        _check_create(event)
        return
    state = {key: auth_state[key] for key in _selection(event) if key in auth_state}
    create = state.get((M_ROOM_CREATE, ""))
    if create is None:
        raise AuthError("rule 2.4: the room has no m.room.create event")
    for auth_event in state.values():
        if auth_event.room_id != event.room_id:
            raise AuthError(f"rule 2.5: auth event {auth_event.event_id} is from another room")
    _check_federation(event, create)
    if event.type == M_ROOM_MEMBER:
        _check_membership(event, state, create)
        return
    if _membership(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 5: {event.sender} is not joined to the room")
    if event.type == M_ROOM_THIRD_PARTY_INVITE:
        if get_user_power_level(event.sender, state) < get_named_level("invite", state):
            raise AuthError("rule 6: sender's power level is below the invite level")
        return
    _check_power(event, state)


def _check_federation(event: Pdu, create: Pdu) -> None:
    """Rule 3: `m.federate: false` keeps the room to the creator's server."""
    if create.content.get("m.federate") is not False:
        return
    if server_name_of(event.sender) != server_name_of(create.sender):
        raise AuthError("rule 3: the room does not federate with the sender's server")


def _check_create(event: Pdu) -> None:
    """Rule 1."""
    if event.prev_event_ids:
        raise AuthError("rule 1.1: m.room.create must not have prev_events")
    if server_name_of(event.room_id) != server_name_of(event.sender):
        raise AuthError("rule 1.2: room ID and sender are on different servers")
    if "room_version" in event.content:
        version = event.content["room_version"]
        if not isinstance(version, str) or get_room_version(version) is None:
            raise AuthError(f"rule 1.3: unrecognised room version {version!r}")
    if not event.room_version.implicit_room_creator and "creator" not in event.content:
        raise AuthError("rule 1.4: m.room.create content has no creator")


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


def _membership(state: StateMap, user_id: str) -> str | None:
    member = state.get((M_ROOM_MEMBER, user_id))
    return member.membership if member is not None else None


def _join_rule(state: StateMap) -> str | None:
    event = state.get((M_ROOM_JOIN_RULES, ""))
    # The spec does not say what applies without a join rules event (or without `join_rule`
    # in it); like Synapse, read it as `invite`, so that invited users can join such a room.
    if event is None:
        return JoinRule.INVITE
    rule = event.content.get("join_rule", JoinRule.INVITE)
    return rule if isinstance(rule, str) else None


def _check_membership(event: Pdu, state: StateMap, create: Pdu) -> None:
    """Rule 4."""
    target, membership = event.state_key, event.membership
    if target is None or membership is None:
        raise AuthError("rule 4.1: m.room.member needs a state_key and content.membership")
    if AUTHORISED_VIA in event.content and not isinstance(event.content[AUTHORISED_VIA], str):
        raise AuthError(f"rule 4.2: {AUTHORISED_VIA} is not a user ID")
    version = event.room_version
    if membership == Membership.JOIN:
        _check_join(event, target, state, create)
    elif membership == Membership.INVITE:
        _check_invite(event, target, state)
    elif membership == Membership.LEAVE:
        _check_leave(event, target, state)
    elif membership == Membership.BAN:
        _check_ban(event, target, state)
    elif membership == Membership.KNOCK and version.knock_join_rule:
        _check_knock(event, target, state)
    else:
        raise AuthError(f"rule 4.8: unknown membership {membership!r}")


def _check_join(event: Pdu, target: str, state: StateMap, create: Pdu) -> None:
    """Rule 4.3."""
    # 4.3.1: the creator's own join right after the create event.
    if list(event.prev_event_ids) == [create.event_id] and target == get_creator(create):
        return
    if event.sender != target:
        raise AuthError("rule 4.3.2: users can only join themselves")
    current = _membership(state, target)
    if current == Membership.BAN:
        raise AuthError(f"rule 4.3.3: {target} is banned from the room")
    version = event.room_version
    join_rule = _join_rule(state)
    if join_rule == JoinRule.INVITE or (join_rule == JoinRule.KNOCK and version.knock_join_rule):
        if current in (Membership.INVITE, Membership.JOIN):
            return
        raise AuthError(f"rule 4.3.4: join rule is {join_rule} and {target} is not invited")
    if (join_rule == JoinRule.RESTRICTED and version.restricted_join_rule) or (
        join_rule == JoinRule.KNOCK_RESTRICTED and version.knock_restricted_join_rule
    ):
        if current in (Membership.JOIN, Membership.INVITE):
            return
        _check_join_authoriser(event, state)
        return
    if join_rule == JoinRule.PUBLIC:
        return
    raise AuthError(f"rule 4.3.7: join rule {join_rule!r} does not allow joining")


def _check_join_authoriser(event: Pdu, state: StateMap) -> None:
    """Rule 4.3.5.2: a restricted join needs a joined authoriser able to invite."""
    authoriser = event.content.get(AUTHORISED_VIA)
    if not isinstance(authoriser, str):
        raise AuthError(f"rule 4.3.5.2: restricted join without {AUTHORISED_VIA}")
    if _membership(state, authoriser) != Membership.JOIN:
        raise AuthError(f"rule 4.3.5.2: authorising user {authoriser} is not joined")
    if get_user_power_level(authoriser, state) < get_named_level("invite", state):
        raise AuthError(f"rule 4.3.5.2: authorising user {authoriser} cannot invite")


def _check_invite(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.4."""
    if "third_party_invite" in event.content:
        _check_third_party_invite(event, target, state)
        return
    if _membership(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 4.4.2: inviter {event.sender} is not joined")
    if _membership(state, target) in (Membership.JOIN, Membership.BAN):
        raise AuthError(f"rule 4.4.3: {target} is already joined or banned")
    if get_user_power_level(event.sender, state) < get_named_level("invite", state):
        raise AuthError("rule 4.4.5: sender's power level is below the invite level")


def _check_third_party_invite(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.4.1."""
    if _membership(state, target) == Membership.BAN:
        raise AuthError(f"rule 4.4.1.1: {target} is banned")
    invite = event.content["third_party_invite"]
    signed = invite.get("signed") if isinstance(invite, dict) else None
    if not isinstance(signed, dict):
        raise AuthError("rule 4.4.1.2: third_party_invite has no signed object")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("rule 4.4.1.3: third_party_invite.signed needs mxid and token")
    if mxid != target:
        raise AuthError("rule 4.4.1.4: third_party_invite.signed.mxid is not the state_key")
    original = state.get((M_ROOM_THIRD_PARTY_INVITE, token))
    if original is None:
        raise AuthError("rule 4.4.1.5: no m.room.third_party_invite for this token")
    if original.sender != event.sender:
        raise AuthError("rule 4.4.1.6: sender did not send the m.room.third_party_invite")
    if not signed_by_any_key(signed, original.content):
        raise AuthError("rule 4.4.1.8: no valid signature by the third-party invite's keys")


def _check_leave(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.5."""
    if event.sender == target:
        if _membership(state, target) in (Membership.INVITE, Membership.JOIN, Membership.KNOCK):
            return
        raise AuthError(f"rule 4.5.1: {target} cannot leave a room they are not in")
    if _membership(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 4.5.2: {event.sender} is not joined")
    sender_level = get_user_power_level(event.sender, state)
    if _membership(state, target) == Membership.BAN and sender_level < get_named_level(
        "ban", state
    ):
        raise AuthError("rule 4.5.3: unbanning needs the ban level")
    if sender_level < get_named_level("kick", state):
        raise AuthError("rule 4.5.5: sender's power level is below the kick level")
    if get_user_power_level(target, state) >= sender_level:
        raise AuthError(f"rule 4.5.5: {target}'s power level is not below the sender's")


def _check_ban(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.6."""
    if _membership(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 4.6.1: {event.sender} is not joined")
    sender_level = get_user_power_level(event.sender, state)
    if sender_level < get_named_level("ban", state):
        raise AuthError("rule 4.6.3: sender's power level is below the ban level")
    if get_user_power_level(target, state) >= sender_level:
        raise AuthError(f"rule 4.6.3: {target}'s power level is not below the sender's")


def _check_knock(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.7."""
    version = event.room_version
    join_rule = _join_rule(state)
    if not (
        join_rule == JoinRule.KNOCK
        or (join_rule == JoinRule.KNOCK_RESTRICTED and version.knock_restricted_join_rule)
    ):
        raise AuthError(f"rule 4.7.1: join rule {join_rule!r} does not allow knocking")
    if event.sender != target:
        raise AuthError("rule 4.7.2: users can only knock for themselves")
    if _membership(state, target) in (Membership.BAN, Membership.INVITE, Membership.JOIN):
        raise AuthError(f"rule 4.7.4: {target} is banned, invited or joined already")

"""Rule 4 of the authorisation rules (rule 5 in room version 12): `m.room.member` events.

Split from `core.auth_rules`, which calls `check_membership` once the auth events are known
and rules 1 to 3 have passed. Rule numbers in messages follow the room version 10/11 list.

Invariants: pure functions over `state`, the auth events (or room state) keyed by
`(type, state_key)`; the `m.room.create` event is always among them.
"""

from __future__ import annotations

from core.auth_base import AUTHORISED_VIA, AuthError
from core.event_types import (
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_THIRD_PARTY_INVITE,
    JoinRule,
    Membership,
)
from core.events import Pdu
from core.power_levels import StateMap, get_creator, get_named_level, get_user_power_level
from core.third_party_invite import signed_by_any_key

__all__ = ["check_membership", "membership_of"]


def membership_of(state: StateMap, user_id: str) -> str | None:
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


def check_membership(event: Pdu, state: StateMap, create: Pdu) -> None:
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
    current = membership_of(state, target)
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
    if membership_of(state, authoriser) != Membership.JOIN:
        raise AuthError(f"rule 4.3.5.2: authorising user {authoriser} is not joined")
    if get_user_power_level(authoriser, state) < get_named_level("invite", state):
        raise AuthError(f"rule 4.3.5.2: authorising user {authoriser} cannot invite")


def _check_invite(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.4."""
    if "third_party_invite" in event.content:
        _check_third_party_invite(event, target, state)
        return
    if membership_of(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 4.4.2: inviter {event.sender} is not joined")
    if membership_of(state, target) in (Membership.JOIN, Membership.BAN):
        raise AuthError(f"rule 4.4.3: {target} is already joined or banned")
    if get_user_power_level(event.sender, state) < get_named_level("invite", state):
        raise AuthError("rule 4.4.5: sender's power level is below the invite level")


def _check_third_party_invite(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.4.1."""
    if membership_of(state, target) == Membership.BAN:
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
        if membership_of(state, target) in (Membership.INVITE, Membership.JOIN, Membership.KNOCK):
            return
        raise AuthError(f"rule 4.5.1: {target} cannot leave a room they are not in")
    if membership_of(state, event.sender) != Membership.JOIN:
        raise AuthError(f"rule 4.5.2: {event.sender} is not joined")
    sender_level = get_user_power_level(event.sender, state)
    if membership_of(state, target) == Membership.BAN and sender_level < get_named_level(
        "ban", state
    ):
        raise AuthError("rule 4.5.3: unbanning needs the ban level")
    if sender_level < get_named_level("kick", state):
        raise AuthError("rule 4.5.5: sender's power level is below the kick level")
    if get_user_power_level(target, state) >= sender_level:
        raise AuthError(f"rule 4.5.5: {target}'s power level is not below the sender's")


def _check_ban(event: Pdu, target: str, state: StateMap) -> None:
    """Rule 4.6."""
    if membership_of(state, event.sender) != Membership.JOIN:
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
    if membership_of(state, target) in (Membership.BAN, Membership.INVITE, Membership.JOIN):
        raise AuthError(f"rule 4.7.4: {target} is banned, invited or joined already")

"""Restricted rooms (Client-Server API "Restricted rooms", Server-Server API "Restricted
rooms"): what a join through the `restricted` or `knock_restricted` join rule needs, read
from a room state.

A user who is neither invited nor joined may join such a room only if they are a joined
member of one of the rooms named by the `m.room_membership` conditions of `allow`, and the
join names, in `join_authorised_via_users_server`, a joined member of the room able to invite
(auth rule 4.3.5.2); that member's server signs the join. The I/O (is the user in the allowed
room, which server we are) is the caller's; these functions only read the state.
"""

from __future__ import annotations

from typing import Final

from core.auth_membership import membership_of
from core.event_types import M_ROOM_JOIN_RULES, M_ROOM_MEMBER, JoinRule, Membership
from core.identifiers import server_name_of
from core.power_levels import StateMap, get_named_level, get_user_power_level

__all__ = [
    "ROOM_MEMBERSHIP",
    "allowed_room_ids",
    "can_authorise",
    "join_needs_authoriser",
    "pick_authoriser",
]

ROOM_MEMBERSHIP: Final = "m.room_membership"
"""The one condition type of `allow`: a joined member of the room `room_id`."""
_MAX_CONDITIONS: Final = 100


def join_needs_authoriser(state: StateMap, user_id: str) -> bool:
    """Whether a join of `user_id` would need `join_authorised_via_users_server`: the join
    rule is `restricted` or `knock_restricted` (where the room version has it) and the user is
    neither invited nor joined."""
    event = state.get((M_ROOM_JOIN_RULES, ""))
    if event is None:
        return False
    rule = event.content.get("join_rule")
    version = event.room_version
    restricted = (rule == JoinRule.RESTRICTED and version.restricted_join_rule) or (
        rule == JoinRule.KNOCK_RESTRICTED and version.knock_restricted_join_rule
    )
    return restricted and membership_of(state, user_id) not in (Membership.INVITE, Membership.JOIN)


def allowed_room_ids(state: StateMap) -> list[str]:
    """The room IDs of the join rules' `m.room_membership` conditions (malformed ones left
    out; none at all means every condition fails)."""
    event = state.get((M_ROOM_JOIN_RULES, ""))
    allow = event.content.get("allow") if event is not None else None
    if not isinstance(allow, list):
        return []
    rooms: list[str] = []
    for condition in allow[:_MAX_CONDITIONS]:
        if (
            isinstance(condition, dict)
            and condition.get("type") == ROOM_MEMBERSHIP
            and isinstance(condition.get("room_id"), str)
        ):
            rooms.append(condition["room_id"])
    return list(dict.fromkeys(rooms))


def can_authorise(state: StateMap, user_id: str) -> bool:
    """Whether `user_id` is joined and may invite (what auth rule 4.3.5.2 asks of the
    authorising user)."""
    return membership_of(state, user_id) == Membership.JOIN and get_user_power_level(
        user_id, state
    ) >= get_named_level("invite", state)


def pick_authoriser(state: StateMap, server_name: str) -> str | None:
    """A joined member of `server_name` able to invite, the most powerful first (ties by user
    ID, so the choice is stable); None when there is none."""
    candidates = [
        user_id
        for (kind, user_id) in state
        if kind == M_ROOM_MEMBER
        and server_name_of(user_id) == server_name
        and can_authorise(state, user_id)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda u: (-get_user_power_level(u, state), u))

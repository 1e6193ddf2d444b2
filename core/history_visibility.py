"""History visibility (spec: Client-Server API "Room History Visibility", server behaviour).

Whether a user may see an event depends on the room state *at that event*: the
`m.room.history_visibility` setting and the user's membership. This module holds the rules as
pure functions; finding the state at an event is the homeserver's job.

Invariants: an absent or unknown visibility reads as `shared`, an absent or unknown membership
as `leave`. For an `m.room.history_visibility` event the setting before *or* after it may allow
the user; for the user's own `m.room.member` event, the membership before *or* after it may.

A server's view (`server_may_see`, what `/backfill`, `/get_missing_events` and `/event` serve)
is the same rules applied to each of its users at once: the server is in the room now, which
for a server is what "joined at some point after the event" is for a user, so `shared`
history is visible to it, `invited` history only where one of its users was invited or
joined, and `joined` history only where one of its users was joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.event_types import Membership

WORLD_READABLE: Final = "world_readable"
SHARED: Final = "shared"
INVITED: Final = "invited"
JOINED: Final = "joined"
_KNOWN: Final = frozenset({WORLD_READABLE, SHARED, INVITED, JOINED})


def visibility_of(content: Mapping[str, Any] | None) -> str:
    """The setting an `m.room.history_visibility` content gives (`shared` when unknown)."""
    value = content.get("history_visibility") if content is not None else None
    return value if isinstance(value, str) and value in _KNOWN else SHARED


def membership_of(content: Mapping[str, Any] | None) -> str:
    """The membership an `m.room.member` content gives (`leave` when absent)."""
    value = content.get("membership") if content is not None else None
    return value if isinstance(value, str) else "leave"


@dataclass(frozen=True, slots=True)
class StateAtEvent:
    """What decides visibility, read from one state (before or after an event).

    Attributes:
        visibility: The history visibility setting.
        membership: The user's membership (`leave` if they have none).
    """

    visibility: str = SHARED
    membership: str = Membership.LEAVE


def allowed(state: StateAtEvent, joined_later: bool) -> bool:
    """The spec's five rules for one state.

    Args:
        state: Visibility and the user's membership at the event.
        joined_later: Whether the user joined the room at some point after the event was sent.
    """
    if state.visibility == WORLD_READABLE:
        return True
    if state.membership == Membership.JOIN:
        return True
    if state.visibility == SHARED and joined_later:
        return True
    return state.membership == Membership.INVITE and state.visibility == INVITED


def may_see(after: StateAtEvent, before: StateAtEvent | None, joined_later: bool) -> bool:
    """Whether a user may see an event.

    Args:
        after: The state at the event (including the event itself if it is state).
        before: The state just before the event, given only for the events whose before-state
            counts: `m.room.history_visibility` events and the user's own membership events.
        joined_later: Whether the user joined at some point after the event was sent.
    """
    if allowed(after, joined_later):
        return True
    return before is not None and allowed(before, joined_later)


def server_may_see(visibility: str, memberships: Iterable[str]) -> bool:
    """Whether a server in the room may see an event.

    Args:
        visibility: The history visibility setting in the state after the event.
        memberships: The memberships of the server's users in that state (empty if it had
            none).
    """
    each = list(memberships) or [Membership.LEAVE]
    return any(allowed(StateAtEvent(visibility, m), joined_later=True) for m in each)

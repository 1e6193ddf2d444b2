"""The iterative auth checks of state resolution v2.

Spec: room version 2 state resolution, "Iterative auth checks": each event, in order, is
checked with `core.auth_rules.check_auth` against the state built so far, falling back to its
own (not rejected) auth events for the keys that state lacks; allowed events replace their
key, the others are ignored. Rejected events (rejected against their own auth events) are
never used as auth events, whether cited by the event or held by the state.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from core.auth_base import StateKey
from core.auth_rules import AuthError, auth_types_for_event, check_auth
from core.event_types import M_ROOM_CREATE
from core.events import Pdu
from core.identifiers import EventId
from core.state_res.graph import EventMap, get_event
from core.state_res.ordering import auth_events_of

__all__ = ["iterative_auth_checks"]


def iterative_auth_checks(
    start: Mapping[StateKey, EventId],
    event_ids: Iterable[EventId],
    events: EventMap,
    rejected: Collection[str],
) -> dict[StateKey, EventId]:
    """Apply `event_ids` in order to a copy of `start`, keeping those the auth rules allow.

    Args:
        start: The state to begin with (unconflicted state map in v2, empty in v2.1, the
            partially resolved state in step 4).
        event_ids: State events in the order to check them.
        events: The events by ID (see `core.state_res.graph`).
        rejected: Events rejected against their own auth events; never used as auth events.

    Returns:
        The new state map.
    """
    state = dict(start)
    for event_id in event_ids:
        event = get_event(events, event_id)
        pair = event.state_pair()
        if pair is None:
            continue
        try:
            check_auth(event, _auth_state(event, state, events, rejected))
        except AuthError:
            continue
        state[pair] = event_id
    return state


def _auth_state(
    event: Pdu,
    state: Mapping[StateKey, EventId],
    events: EventMap,
    rejected: Collection[str],
) -> dict[StateKey, Pdu]:
    """The event's auth events, overridden by the current state where the state has the key."""
    auth = auth_events_of(event, events, rejected)
    keys = auth_types_for_event(
        event.type, event.state_key, event.sender, event.content, event.room_version
    )
    for key in (*keys, (M_ROOM_CREATE, "")):
        event_id = state.get(key)
        if event_id is not None and event_id not in rejected:
            auth[key] = get_event(events, event_id)
    return auth

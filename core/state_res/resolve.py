"""State resolution for room versions 2 and later (v2), and v2.1 of room version 12.

Spec: room version 2 state resolution, "Algorithm", and room version 12's changes
(MSC4297), selected by the `state_res_v2_1` flag of the room version:

1. The power events of the full conflicted set, with the parts of their auth chains inside
   that set (reached through that set, as Synapse and ruma do), in reverse topological power
   ordering.
2. Iterative auth checks of those from the unconflicted state map (v2.1: from empty).
3. The remaining events in mainline ordering, based on the power levels of step 2's state.
4. Iterative auth checks of those on step 2's state.
5. The unconflicted state map laid over the result.

In v2.1 the full conflicted set also takes in the conflicted state subgraph.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from core.auth_base import StateKey
from core.event_types import M_ROOM_POWER_LEVELS
from core.identifiers import EventId
from core.room_versions import RoomVersion
from core.state_res.graph import (
    EventMap,
    StateSet,
    auth_difference,
    auth_ids,
    conflicted_subgraph,
    get_event,
    split_state,
)
from core.state_res.iterative import iterative_auth_checks
from core.state_res.ordering import (
    is_power_event,
    mainline_order,
    reverse_topological_power_order,
)

__all__ = ["full_conflicted_set", "resolve_state"]


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[StateSet],
    events: EventMap,
    *,
    rejected: Collection[str] = frozenset(),
) -> dict[StateKey, EventId]:
    """The resolution of `state_sets`: one state map from several.

    Args:
        room_version: The room's version; `state_res_v2_1` selects the v2.1 changes.
        state_sets: State maps `{(type, state_key): event_id}`, e.g. the states after each
            of an event's `prev_events`. Their order does not matter.
        events: Every event of the state sets and of their auth chains, by ID (a dict, or
            any mapping that looks events up). `core.state_res.missing_auth_events` tells
            what is still missing.
        rejected: IDs of events rejected against their own auth events, so never used as
            auth events.

    Returns:
        The resolved state map.

    Raises:
        MissingEventsError: If `events` lacks an event the algorithm reaches.
    """
    unconflicted, conflicted = split_state(state_sets)
    if not conflicted:
        return unconflicted
    full = full_conflicted_set(room_version, state_sets, conflicted, events)
    power = _with_auth_ancestry_in(
        {e for e in full if is_power_event(get_event(events, e))}, full, events
    )
    start = {} if room_version.state_res_v2_1 else unconflicted
    partial = iterative_auth_checks(
        start, reverse_topological_power_order(power, events, rejected), events, rejected
    )
    remaining = mainline_order(full - power, partial.get((M_ROOM_POWER_LEVELS, "")), events)
    resolved = iterative_auth_checks(partial, remaining, events, rejected)
    resolved.update(unconflicted)
    return resolved


def _with_auth_ancestry_in(
    seeds: set[EventId], full: set[EventId], events: EventMap
) -> set[EventId]:
    """`seeds` and the events of their auth chains that are in `full`.

    The walk goes through `full` only, as Synapse and ruma walk it: an ancestor reached only
    through an event outside the full conflicted set is left to the mainline step.
    """
    found = set(seeds)
    stack = list(seeds)
    while stack:
        for auth_id in auth_ids(get_event(events, stack.pop())):
            if auth_id in full and auth_id not in found:
                found.add(auth_id)
                stack.append(auth_id)
    return found


def full_conflicted_set(
    room_version: RoomVersion,
    state_sets: Sequence[StateSet],
    conflicted: set[EventId],
    events: EventMap,
) -> set[EventId]:
    """The conflicted state set, the auth difference and (v2.1) the conflicted state subgraph."""
    full = conflicted | auth_difference(state_sets, events)
    if room_version.state_res_v2_1:
        full |= conflicted_subgraph(conflicted, events)
    return full

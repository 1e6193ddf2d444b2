"""The graph part of state resolution v2: splitting state sets, auth chains, and their differences.

Spec: room version 2 state resolution, "Definitions" (unconflicted state map and conflicted
state set, auth chain, auth difference) and room version 12's *conflicted state subgraph*.

Invariants: pure functions over an `EventMap` that the caller filled with every event the
walk reaches (the auth chain closure of the state sets); an absent one raises
`MissingEventsError` naming it, so a sans-I/O caller can fetch it and call again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from core.auth_base import StateKey
from core.event_types import M_ROOM_CREATE
from core.events import Pdu
from core.identifiers import EventId

__all__ = [
    "EventMap",
    "MissingEventsError",
    "StateSet",
    "auth_chain",
    "auth_difference",
    "auth_ids",
    "conflicted_subgraph",
    "missing_auth_events",
    "split_state",
]

StateSet = Mapping[StateKey, str]
EventMap = Mapping[str, Pdu]


class MissingEventsError(LookupError):
    """State resolution needs events the caller did not pass.

    Attributes:
        event_ids: The IDs to fetch, sorted.
    """

    def __init__(self, event_ids: Iterable[str]) -> None:
        self.event_ids = sorted(set(event_ids))
        super().__init__(f"state resolution needs {len(self.event_ids)} more events")


def get_event(events: EventMap, event_id: str) -> Pdu:
    """`events[event_id]`, or `MissingEventsError` if the caller did not pass it."""
    event = events.get(event_id)
    if event is None:
        raise MissingEventsError([event_id])
    return event


def auth_ids(event: Pdu) -> list[EventId]:
    """The event's auth events as the auth graph sees them.

    In versions whose room ID names the create event (v12) the create event is left out of
    `auth_events` but still authorises everything; it is added back here, as Synapse does,
    so auth chains, orderings and fallbacks all reach it.
    """
    ids = list(event.auth_event_ids)
    if event.room_version.room_id_from_create_event and event.type != M_ROOM_CREATE:
        ids.append(EventId("$" + event.room_id[1:]))
    return ids


def split_state(
    state_sets: Sequence[StateSet],
) -> tuple[dict[StateKey, EventId], set[EventId]]:
    """The unconflicted state map and the conflicted state set.

    A key is unconflicted when every state set holds it with the same event; every event of
    any other key is conflicted (a key missing from one set conflicts too).
    """
    unconflicted: dict[StateKey, EventId] = {}
    conflicted: set[EventId] = set()
    keys = {key for state in state_sets for key in state}
    for key in keys:
        values = {state.get(key) for state in state_sets}
        if len(values) == 1 and None not in values:
            unconflicted[key] = EventId(str(values.pop()))
        else:
            conflicted.update(EventId(v) for v in values if v is not None)
    return unconflicted, conflicted


def auth_chain(event_ids: Iterable[str], events: EventMap) -> set[EventId]:
    """Every event reachable from `event_ids` through `auth_events` (not the starts themselves)."""
    chain: set[EventId] = set()
    stack = [aid for eid in event_ids for aid in auth_ids(get_event(events, eid))]
    while stack:
        event_id = stack.pop()
        if event_id in chain:
            continue
        chain.add(event_id)
        stack.extend(auth_ids(get_event(events, event_id)))
    return chain


def auth_difference(state_sets: Sequence[StateSet], events: EventMap) -> set[EventId]:
    """The events in some but not all of the state sets' full auth chains.

    A set's own events count as part of its full auth chain, as Synapse computes it: an
    event every set holds (unconflicted) then never lands in the difference merely because
    another set's events cite it.
    """
    chains = []
    for state in state_sets:
        own = {EventId(v) for v in state.values()}
        chains.append(own | auth_chain(own, events))
    if not chains:
        return set()
    union: set[EventId] = set().union(*chains)
    common = chains[0].intersection(*chains[1:])
    return union - common


def conflicted_subgraph(conflicted: Collection[EventId], events: EventMap) -> set[EventId]:
    """The conflicted state subgraph (state resolution v2.1).

    The events on `auth_events` paths from one conflicted event to another, endpoints
    included: those reachable from a conflicted event that themselves reach one.
    """
    reaches: dict[EventId, bool] = dict.fromkeys(conflicted, True)
    for start in conflicted:
        for auth_id in auth_ids(get_event(events, start)):
            _reaches_conflicted(auth_id, events, reaches)
    return {event_id for event_id, hit in reaches.items() if hit}


def _reaches_conflicted(start: EventId, events: EventMap, reaches: dict[EventId, bool]) -> bool:
    """Whether `start` or an event in its auth chain is conflicted; memoised in `reaches`.

    Iterative post-order walk, so deep auth chains do not exhaust the Python stack; an event
    already on the walk is not entered again, so even a (forged) cycle ends.
    """
    on_walk: set[EventId] = set()
    stack: list[tuple[EventId, bool]] = [(start, False)]
    while stack:
        event_id, expanded = stack.pop()
        parents = auth_ids(get_event(events, event_id))
        if expanded:
            reaches[event_id] = any(reaches.get(p, False) for p in parents)
            on_walk.discard(event_id)
            continue
        if event_id in reaches or event_id in on_walk:
            continue
        on_walk.add(event_id)
        stack.append((event_id, True))
        stack.extend((p, False) for p in parents if p not in reaches and p not in on_walk)
    return reaches.get(start, False)


def missing_auth_events(state_sets: Sequence[StateSet], events: EventMap) -> set[str]:
    """The events state resolution will need that `events` lacks, as far as known events tell.

    Walks the state sets' events and their auth chains; an absent event's own auth events
    are unknown, so a caller fetches these and asks again until the answer is empty.
    """
    missing: set[str] = set()
    seen: set[str] = set()
    stack = [event_id for state in state_sets for event_id in state.values()]
    while stack:
        event_id = stack.pop()
        if event_id in seen:
            continue
        seen.add(event_id)
        event = events.get(event_id)
        if event is None:
            missing.add(event_id)
        else:
            stack.extend(auth_ids(event))
    return missing

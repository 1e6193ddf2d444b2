"""The orderings of state resolution v2: reverse topological power ordering and mainline ordering.

Spec: room version 2 state resolution, "Definitions" (power events, reverse topological
power ordering, mainline ordering). Both orderings are total and depend only on the events,
never on the order the caller listed them in.

Power levels of senders are read from each event's own auth events (plus, in room versions
whose room ID names the create event, that create event), so room creators of version 12
sort before everyone.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable

from core.auth_base import StateKey
from core.event_types import (
    M_ROOM_CREATE,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_POWER_LEVELS,
    Membership,
)
from core.events import Pdu
from core.identifiers import EventId
from core.power_levels import get_user_power_level
from core.state_res.graph import EventMap, auth_ids, get_event

__all__ = [
    "auth_events_of",
    "is_power_event",
    "mainline_order",
    "reverse_topological_power_order",
]


def is_power_event(event: Pdu) -> bool:
    """A power event: power levels, join rules, or a kick or ban by someone else.

    The create event counts too, as in Synapse and ruma; it is in every auth chain, so this
    only matters when two create events conflict.
    """
    if event.state_key is None:
        return False
    if event.type in (M_ROOM_POWER_LEVELS, M_ROOM_JOIN_RULES, M_ROOM_CREATE):
        return event.state_key == ""
    return (
        event.type == M_ROOM_MEMBER
        and event.membership in (Membership.LEAVE, Membership.BAN)
        and event.sender != event.state_key
    )


def auth_events_of(event: Pdu, events: EventMap, rejected: Collection[str]) -> dict[StateKey, Pdu]:
    """`event`'s auth events keyed by `(type, state_key)`, rejected ones left out.

    In version 12 the create event named by the room ID is added. Auth events the caller
    did not pass are skipped: rule checks then see the room without them.
    """
    keyed: dict[StateKey, Pdu] = {}
    for auth_id in auth_ids(event):
        auth_event = events.get(auth_id)
        if auth_event is None or auth_id in rejected:
            continue
        pair = auth_event.state_pair()
        if pair is not None:
            keyed[pair] = auth_event
    return keyed


def _sender_power(event: Pdu, events: EventMap, rejected: Collection[str]) -> int:
    return get_user_power_level(event.sender, auth_events_of(event, events, rejected))


def reverse_topological_power_order(
    event_ids: Collection[EventId], events: EventMap, rejected: Collection[str]
) -> list[EventId]:
    """`event_ids` from earliest to latest: Kahn's algorithm over the auth DAG among them.

    Among the events whose auth events (within the set) are all placed, the next is the one
    whose sender has the highest power level, then the lowest `origin_server_ts`, then the
    lowest event ID. Events on a (forged) auth cycle are never ready and are left out.
    """
    members = set(event_ids)
    waiting: dict[EventId, int] = {}
    children: dict[EventId, list[EventId]] = {event_id: [] for event_id in members}
    for event_id in members:
        parents = {p for p in auth_ids(get_event(events, event_id)) if p in members}
        waiting[event_id] = len(parents)
        for parent in parents:
            children[parent].append(event_id)
    heap = [_power_key(e, events, rejected) for e, count in waiting.items() if count == 0]
    heapq.heapify(heap)
    ordered: list[EventId] = []
    while heap:
        _, _, event_id = heapq.heappop(heap)
        ordered.append(event_id)
        for child in children[event_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(heap, _power_key(child, events, rejected))
    return ordered


def _power_key(
    event_id: EventId, events: EventMap, rejected: Collection[str]
) -> tuple[int, int, EventId]:
    event = get_event(events, event_id)
    return (-_sender_power(event, events, rejected), event.origin_server_ts, event_id)


def _power_levels_parent(event: Pdu, events: EventMap) -> Pdu | None:
    """The `m.room.power_levels` event among `event`'s auth events, if any."""
    for auth_id in auth_ids(event):
        auth_event = events.get(auth_id)
        if auth_event is not None and auth_event.state_pair() == (M_ROOM_POWER_LEVELS, ""):
            return auth_event
    return None


def mainline_order(
    event_ids: Iterable[EventId], power_levels_id: str | None, events: EventMap
) -> list[EventId]:
    """`event_ids` in mainline ordering based on the power levels event `power_levels_id`.

    Events whose power levels ancestry meets the mainline further from its head come first
    (never meeting it is furthest of all); ties go to the lower `origin_server_ts`, then
    the lower event ID.
    """
    position: dict[EventId, int] = {}
    current = get_event(events, power_levels_id) if power_levels_id is not None else None
    while current is not None and current.event_id not in position:
        position[current.event_id] = len(position)
        current = _power_levels_parent(current, events)
    never = len(position)  # greater than every index: "infinity"

    def key(event_id: EventId) -> tuple[int, int, EventId]:
        event = get_event(events, event_id)
        return (
            -_mainline_position(event, position, never, events),
            event.origin_server_ts,
            event_id,
        )

    return sorted(event_ids, key=key)


def _mainline_position(
    event: Pdu, position: dict[EventId, int], never: int, events: EventMap
) -> int:
    seen: set[EventId] = set()
    current = _power_levels_parent(event, events)
    while current is not None and current.event_id not in seen:
        found = position.get(current.event_id)
        if found is not None:
            return found
        seen.add(current.event_id)
        current = _power_levels_parent(current, events)
    return never

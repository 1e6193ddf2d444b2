"""State groups: the state after each event, stored as bounded chains of deltas.

A state event starts a new group holding only its own entry and pointing at the previous
group; every `MAX_CHAIN` deltas a full snapshot is written instead, so reading a group walks a
bounded chain. A state that is not one event away from a stored group (the resolved state of a
fork, the state a join brought from another server) is written as a snapshot.
"""

from __future__ import annotations

from core.events import Pdu
from core.identifiers import EventId, RoomId
from homeserver.storage.database import Connection
from homeserver.storage.streams import next_position

StateKey = tuple[str, str]
StateIds = dict[StateKey, EventId]

MAX_CHAIN = 50
STATE_GROUP_STREAM = "state_groups"

__all__ = [
    "MAX_CHAIN",
    "STATE_GROUP_STREAM",
    "StateIds",
    "StateKey",
    "state_group_after",
    "state_of_group",
    "write_snapshot",
]


async def state_group_after(
    conn: Connection, pdu: Pdu, prev_group: int | None, before: StateIds | None = None
) -> int:
    """The state group after `pdu`: the previous one for a message, a new one for state.

    Args:
        conn: The open transaction.
        pdu: The event.
        prev_group: The group of the state before it (ignored when `before` is given).
        before: The full state before it, when that is no stored group.
    """
    if before is not None:
        after = dict(before)
        if pdu.state_key is not None:
            after[(pdu.type, pdu.state_key)] = pdu.event_id
        return await write_snapshot(conn, pdu.room_id, after)
    if pdu.state_key is None and prev_group is not None:
        return prev_group
    group = await next_position(conn, STATE_GROUP_STREAM)
    chain = 0
    if prev_group is not None:
        chain = int(
            await conn.fetch_val(
                "SELECT chain_length FROM state_groups WHERE group_id = $1", prev_group
            )
            or 0
        )
    entries: StateIds = {}
    if prev_group is not None and chain + 1 >= MAX_CHAIN:
        entries = await state_of_group(conn, prev_group)
        prev_group, chain = None, -1
    if pdu.state_key is not None:
        entries[(pdu.type, pdu.state_key)] = pdu.event_id
    await _insert_group(conn, group, pdu.room_id, prev_group, chain + 1, entries)
    return group


async def write_snapshot(conn: Connection, room_id: RoomId, state: StateIds) -> int:
    """A new group holding `state` in full; returns its ID."""
    group = await next_position(conn, STATE_GROUP_STREAM)
    await _insert_group(conn, group, room_id, None, 0, state)
    return group


async def _insert_group(
    conn: Connection,
    group: int,
    room_id: RoomId,
    prev_group: int | None,
    chain: int,
    entries: StateIds,
) -> None:
    await conn.execute(
        "INSERT INTO state_groups (group_id, room_id, prev_group, chain_length)"
        " VALUES ($1, $2, $3, $4)",
        group,
        room_id,
        prev_group,
        chain,
    )
    if entries:
        await conn.execute_many(
            "INSERT INTO state_group_entries (group_id, event_type, state_key, event_id)"
            " VALUES ($1, $2, $3, $4)",
            [(group, t, k, e) for (t, k), e in entries.items()],
        )


async def state_of_group(conn: Connection, group: int) -> StateIds:
    """The full state of a group, walking its chain of deltas."""
    chain: list[int] = []
    current: int | None = group
    while current is not None:
        chain.append(current)
        current = await conn.fetch_val(
            "SELECT prev_group FROM state_groups WHERE group_id = $1", current
        )
    state: StateIds = {}
    for group_id in reversed(chain):
        rows = await conn.fetch_all(
            "SELECT event_type, state_key, event_id FROM state_group_entries WHERE group_id = $1",
            group_id,
        )
        for r in rows:
            state[(r["event_type"], r["state_key"])] = EventId(r["event_id"])
    return state

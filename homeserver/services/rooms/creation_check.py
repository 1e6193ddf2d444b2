"""createRoom's events replayed against the auth rules before the room exists.

createRoom sends a dozen or more events as its creator (create, join, power levels, alias,
preset and initial state, name, topic, invites). If the auth rules refused one half-way, the room
would already have rows; the rollback frees the alias and takes the creator out, but the room and
its first events stay. Replaying the same events in memory first, with the same rules and the
state each would be checked against, refuses such a request with 400 `M_INVALID_ROOM_STATE`
before anything is written.

Invariants: pure (no I/O); the events are the ones createRoom then sends, in the same order, so
what passes here is refused later only if something outside the request changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.auth_base import AuthError, StateKey
from core.auth_rules import check_auth
from core.errors import M_INVALID_ROOM_STATE, JsonDict, MatrixError
from core.event_types import M_ROOM_CREATE
from core.events import Pdu
from core.identifiers import RoomId, UserId
from core.room_versions import RoomVersion

__all__ = ["InitialEvent", "check_initial_events"]

InitialEvent = tuple[str, str, JsonDict]
"""One event createRoom sends: `(type, state_key, content)`, all state events."""


def check_initial_events(
    version: RoomVersion, room_id: RoomId, sender: UserId, events: Sequence[InitialEvent]
) -> None:
    """Refuse a room whose initial events (the create event first) the auth rules would reject.

    Args:
        version: The new room's version.
        room_id: The ID the room will have.
        sender: The creator, who sends every event.
        events: The events in the order they will be sent.

    Raises:
        MatrixError: `M_INVALID_ROOM_STATE` naming the first refused event and the rule.
    """
    state: dict[StateKey, Pdu] = {}
    prev: list[str] = []
    for index, (event_type, state_key, content) in enumerate(events):
        pdu = _draft(version, room_id, sender, (event_type, state_key, content), index, prev)
        prev = [pdu.event_id]
        try:
            check_auth(pdu, state)
        except AuthError as exc:
            raise MatrixError(
                M_INVALID_ROOM_STATE,
                f"The room's initial {event_type} event would be refused: {exc.message}",
            ) from exc
        state[(event_type, state_key)] = pdu


def _draft(
    version: RoomVersion,
    room_id: RoomId,
    sender: UserId,
    event: InitialEvent,
    index: int,
    prev: list[str],
) -> Pdu:
    """An unsigned stand-in for the event (after `prev`), with what the auth rules read."""
    event_type, state_key, content = event
    raw: dict[str, Any] = {
        "room_id": room_id,
        "sender": sender,
        "type": event_type,
        "state_key": state_key,
        "content": content,
        "prev_events": prev,
        "auth_events": [],
        "depth": index + 1,
    }
    event_id = f"$draft{index}"
    if event_type == M_ROOM_CREATE and version.room_id_from_create_event:
        del raw["room_id"]  # the room ID names the create event instead
        event_id = "$" + room_id[1:]
    return Pdu(raw, event_id, version)

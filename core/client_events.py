"""Client-facing event formats (spec: Client-Server API "Room Event Format").

A PDU carries federation fields (`auth_events`, `hashes`, `signatures`, …) that clients do not
see. `client_event` keeps what the client format defines and builds `unsigned`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import JsonDict
from core.event_types import M_ROOM_REDACTION
from core.events import Pdu

_CLIENT_KEYS = ("content", "origin_server_ts", "room_id", "sender", "type", "state_key", "redacts")


def client_event(
    pdu: Pdu,
    *,
    now_ms: int,
    unsigned: Mapping[str, Any] | None = None,
    include_room_id: bool = True,
) -> JsonDict:
    """The `ClientEvent` (or, without room ID, `ClientEventWithoutRoomID`) form of a PDU.

    Args:
        pdu: The event.
        now_ms: The current time, for `unsigned.age`.
        unsigned: Extra `unsigned` fields (`transaction_id`, `prev_content`, …).
        include_room_id: False for the `/sync` timeline and state, which omit it.
    """
    raw = pdu.raw
    event: JsonDict = {key: raw[key] for key in _CLIENT_KEYS if key in raw}
    event["event_id"] = pdu.event_id
    if include_room_id:
        # A v12 create event carries no `room_id`; clients still get the room it names.
        event["room_id"] = pdu.room_id
    else:
        event.pop("room_id", None)
    if pdu.type == M_ROOM_REDACTION:
        _mirror_redacts(event)
    extra: JsonDict = {"age": max(0, now_ms - pdu.origin_server_ts)}
    if unsigned:
        extra.update(unsigned)
    event["unsigned"] = extra
    return event


def _mirror_redacts(event: JsonDict) -> None:
    """Serve a redaction's `redacts` both at the top level and in `content`.

    Room version 11 moved it into `content`; the spec asks servers to also put it where the
    other versions keep it, for clients that know only one place (room version 11, "Moving
    the `redacts` property").
    """
    content = event.get("content")
    if not isinstance(content, dict):
        return
    top, inner = event.get("redacts"), content.get("redacts")
    if isinstance(inner, str) and top is None:
        event["redacts"] = inner
    elif isinstance(top, str) and inner is None:
        event["content"] = {**content, "redacts": top}


def strip_state_event(pdu: Pdu) -> JsonDict:
    """The `StrippedStateEvent` form used in invite and knock state."""
    return {
        "content": dict(pdu.content),
        "sender": pdu.sender,
        "state_key": pdu.state_key or "",
        "type": pdu.type,
    }

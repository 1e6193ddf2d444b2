"""The room state that travels with an invite or a knock (`invite_room_state`,
`knock_room_state`).

Since Matrix 1.16 (MSC4311) servers send these entries as full PDUs of the room, the
`m.room.create` event among them, so the receiver can check them; clients still see only the
stripped form (`type`, `state_key`, `content`, `sender`). `room_state_pdus` is what we send
(the room's current `ROOM_STATE_TYPES` events);
`stripped_room_state` is what we keep of what another server sent: each full PDU must be a
validly signed state event of that room (dropped otherwise), and bare stripped events, which
servers predating MSC4311 still send, are kept as they are.
"""

from __future__ import annotations

import logging
from typing import Final

from core.client_events import strip_state_event
from core.errors import JsonDict
from core.event_types import (
    M_ROOM_AVATAR,
    M_ROOM_CANONICAL_ALIAS,
    M_ROOM_CREATE,
    M_ROOM_ENCRYPTION,
    M_ROOM_JOIN_RULES,
    M_ROOM_NAME,
    M_ROOM_TOPIC,
)
from core.identifiers import RoomId
from core.room_versions import RoomVersion
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier
from homeserver.services.rooms.events import EventService

__all__ = ["MAX_ROOM_STATE", "ROOM_STATE_TYPES", "room_state_pdus", "stripped_room_state"]

logger = logging.getLogger(__name__)

MAX_ROOM_STATE: Final = 50
"""Entries of another server's room state kept."""

ROOM_STATE_TYPES: Final = (
    M_ROOM_CREATE,
    M_ROOM_JOIN_RULES,
    M_ROOM_NAME,
    M_ROOM_AVATAR,
    M_ROOM_TOPIC,
    M_ROOM_CANONICAL_ALIAS,
    M_ROOM_ENCRYPTION,
)
"""The state events sent with an invite or a knock."""

_STRIPPED_KEYS: Final = ("type", "state_key", "content", "sender")


async def room_state_pdus(events: EventService, room_id: RoomId) -> list[JsonDict]:
    """The entries we send: the room's current `ROOM_STATE_TYPES` events, each as its full
    PDU, as signed."""
    state = await events.current_state(room_id)
    wanted = [state[(t, "")] for t in ROOM_STATE_TYPES if (t, "") in state]
    return [dict(p.raw) for p in await events.get_pdus(wanted)]


async def stripped_room_state(
    raws: object, room_id: RoomId, version: RoomVersion, verifier: PduVerifier
) -> list[JsonDict]:
    """The entries of another server's room state that hold, as stripped state events."""
    if not isinstance(raws, list):
        return []
    kept: list[JsonDict] = []
    for raw in raws[:MAX_ROOM_STATE]:
        if not isinstance(raw, dict):
            continue
        if "signatures" not in raw:
            if _is_stripped(raw):
                kept.append({k: raw[k] for k in _STRIPPED_KEYS})
            continue
        try:
            pdu = await verifier.verify(raw, version)
        except PduDropped as exc:
            logger.info("room state entry dropped room_id=%s reason=%s", room_id, exc)
            continue
        if pdu.room_id == room_id and pdu.state_key is not None:
            kept.append(strip_state_event(pdu))
    return kept


def _is_stripped(raw: JsonDict) -> bool:
    return (
        isinstance(raw.get("type"), str)
        and isinstance(raw.get("state_key"), str)
        and isinstance(raw.get("sender"), str)
        and isinstance(raw.get("content"), dict)
    )

"""The room state that travels with an invite or a knock (`invite_room_state`,
`knock_room_state`).

Since Matrix 1.16 (MSC4311) servers send these entries as full PDUs of the room, the
`m.room.create` event among them, so the receiver can check them; clients still see only the
stripped form (`type`, `state_key`, `content`, `sender`). `room_state_pdus` is what we send;
`stripped_room_state` is what we keep of what another server sent: each full PDU must be a
validly signed state event of that room (dropped otherwise), and bare stripped events, which
servers predating MSC4311 still send, are kept as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

from core.client_events import strip_state_event
from core.errors import JsonDict
from core.events import Pdu
from core.identifiers import RoomId
from core.room_versions import RoomVersion
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier

__all__ = ["MAX_ROOM_STATE", "room_state_pdus", "stripped_room_state"]

logger = logging.getLogger(__name__)

MAX_ROOM_STATE: Final = 50
"""Entries of another server's room state kept."""

_STRIPPED_KEYS: Final = ("type", "state_key", "content", "sender")


def room_state_pdus(pdus: Iterable[Pdu]) -> list[JsonDict]:
    """The entries we send: each event as its full PDU, as signed."""
    return [dict(p.raw) for p in pdus]


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

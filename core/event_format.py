"""Whether a PDU is well formed (server-server "Checks performed on receipt of a PDU", step 1).

Covers the PDU schema of room versions 10, 11 and 12 (`pdu_v6`/`pdu_v11`/`pdu_v12` in the
spec's API definitions; v12 room IDs are `!` + the create event's reference hash, which the
create event itself omits and no event lists in `auth_events`), the client-server "Size limits", and strict canonical JSON (room versions 6+).
It does not check signatures, hashes or auth rules, nor the content schemas of event types;
later steps do that. Every failure is a `MatrixError`: `M_TOO_LARGE` for the 64 KiB limit and
`M_BAD_JSON` for everything else, so federation can drop the PDU and the client API can return
the error as is.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, TypeGuard

from core.canonical_json import CANONICAL_INT_MAX, encode_canonical
from core.errors import M_BAD_JSON, M_TOO_LARGE, JsonDict, MatrixError
from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER, M_ROOM_REDACTION
from core.identifiers import MAX_ID_BYTES, parse_event_id, parse_server_name, parse_user_id
from core.room_versions import RoomVersion

__all__ = [
    "MAX_AUTH_EVENTS",
    "MAX_KEY_BYTES",
    "MAX_PDU_BYTES",
    "MAX_PREV_EVENTS",
    "check_pdu_format",
]

MAX_PDU_BYTES: Final = 65536
MAX_KEY_BYTES: Final = 255
MAX_AUTH_EVENTS: Final = 10
MAX_PREV_EVENTS: Final = 20

# A v12 room ID: `!` and a SHA-256 reference hash in URL-safe unpadded Base64.
_HASHED_ROOM_ID: Final = re.compile(r"^![A-Za-z0-9_-]{43}$")


def check_pdu_format(
    pdu: JsonDict, room_version: RoomVersion, *, graph_limits: bool = True
) -> None:
    """Reject a PDU that does not follow the event format of `room_version`.

    Args:
        pdu: The event in federation format, as received.
        room_version: The version of the room it claims to belong to.
        graph_limits: Whether to hold `prev_events` and `auth_events` to their limits; the
            spec forbids it for events answered by `/backfill` (older events may break them).

    Raises:
        MatrixError: `M_TOO_LARGE` if its canonical JSON exceeds 65536 bytes, `M_BAD_JSON`
            for a missing or mistyped key, an over-long identifier, or (in versions with
            strict canonical JSON) a float or out-of-range integer anywhere in it.
    """
    _check_size_and_encoding(pdu, room_version)
    _check_identifiers(pdu, room_version)
    _check_graph_fields(pdu, room_version, graph_limits)
    _check_hashes_and_signatures(pdu)
    if not isinstance(pdu.get("content"), dict):
        raise _bad("'content' must be an object")
    if "unsigned" in pdu and not isinstance(pdu["unsigned"], dict):
        raise _bad("'unsigned' must be an object")
    _check_redacts(pdu, room_version)


def _bad(message: str) -> MatrixError:
    return MatrixError(M_BAD_JSON, message)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size_and_encoding(pdu: JsonDict, room_version: RoomVersion) -> None:
    if room_version.strict_canonical_json:
        try:
            encoded = encode_canonical(pdu)
        except ValueError as exc:
            raise _bad(f"event is not canonical JSON: {exc}") from exc
    else:
        # Older versions tolerate floats and big integers; their size is still measured.
        encoded = json.dumps(
            pdu, ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode()
    if len(encoded) > MAX_PDU_BYTES:
        raise MatrixError(M_TOO_LARGE, f"event is larger than {MAX_PDU_BYTES} bytes")


def _check_short_string(pdu: JsonDict, key: str, *, required: bool) -> None:
    if key not in pdu:
        if required:
            raise _bad(f"missing '{key}'")
        return
    value = pdu[key]
    if not isinstance(value, str):
        raise _bad(f"'{key}' must be a string")
    if len(value.encode()) > MAX_KEY_BYTES:
        raise _bad(f"'{key}' is longer than {MAX_KEY_BYTES} bytes")


def _check_identifiers(pdu: JsonDict, room_version: RoomVersion) -> None:
    _check_short_string(pdu, "type", required=True)
    _check_short_string(pdu, "state_key", required=False)
    _check_short_string(pdu, "sender", required=True)
    hashed = room_version.room_id_from_create_event
    # A v12 create event has no room ID (one it does carry is left to auth rule 1.2).
    _check_short_string(pdu, "room_id", required=not (hashed and pdu["type"] == M_ROOM_CREATE))
    try:
        parse_user_id(pdu["sender"])
    except ValueError as exc:
        raise _bad(f"invalid 'sender': {exc}") from exc
    if pdu["type"] == M_ROOM_MEMBER:
        # Memberships are stored and looked up by the user their state key names.
        state_key = pdu.get("state_key")
        if not isinstance(state_key, str):
            raise _bad("an m.room.member event needs a 'state_key'")
        try:
            parse_user_id(state_key)
        except ValueError as exc:
            raise _bad(f"an m.room.member 'state_key' must be a user ID: {exc}") from exc
    if "room_id" not in pdu:
        return
    if hashed:
        if not _HASHED_ROOM_ID.match(pdu["room_id"]):
            raise _bad("'room_id' must be '!' and a reference hash in this room version")
    else:
        _check_room_id(pdu["room_id"])


def _check_room_id(room_id: str) -> None:
    # The spec lets a room ID localpart hold any code point but ':' and NUL, which is wider
    # than core.identifiers.parse_room_id accepts for IDs we mint; received IDs need this.
    local, sep, server = room_id[1:].partition(":")
    if not room_id.startswith("!") or not sep or not local or "\x00" in local:
        raise _bad("'room_id' must be '!localpart:server_name'")
    try:
        parse_server_name(server)
    except ValueError as exc:
        raise _bad(f"invalid server name in 'room_id': {exc}") from exc
    if len(room_id.encode()) > MAX_ID_BYTES:
        raise _bad(f"'room_id' is longer than {MAX_ID_BYTES} bytes")


def _check_event_id_list(pdu: JsonDict, key: str, limit: int | None) -> None:
    value = pdu.get(key)
    if not isinstance(value, list):
        raise _bad(f"'{key}' must be a list of event IDs")
    if limit is not None and len(value) > limit:
        raise _bad(f"'{key}' holds more than {limit} events")
    for item in value:
        if not isinstance(item, str):
            raise _bad(f"'{key}' must be a list of event IDs")
        try:
            parse_event_id(item)
        except ValueError as exc:
            raise _bad(f"invalid event ID in '{key}': {exc}") from exc


def _check_graph_fields(pdu: JsonDict, room_version: RoomVersion, limited: bool) -> None:
    _check_event_id_list(pdu, "auth_events", MAX_AUTH_EVENTS if limited else None)
    room_id = pdu.get("room_id")
    hashed = room_version.room_id_from_create_event
    if hashed and isinstance(room_id, str) and "$" + room_id[1:] in pdu["auth_events"]:
        raise _bad("'auth_events' must not list the create event in this room version")
    _check_event_id_list(pdu, "prev_events", MAX_PREV_EVENTS if limited else None)
    depth = pdu.get("depth")
    if not _is_int(depth) or not 0 <= depth <= CANONICAL_INT_MAX:
        raise _bad(f"'depth' must be an integer from 0 to {CANONICAL_INT_MAX}")
    if not _is_int(pdu.get("origin_server_ts")):
        raise _bad("'origin_server_ts' must be an integer")


def _check_hashes_and_signatures(pdu: JsonDict) -> None:
    hashes = pdu.get("hashes")
    if not isinstance(hashes, dict) or not isinstance(hashes.get("sha256"), str):
        raise _bad("'hashes' must be an object with a string 'sha256'")
    signatures = pdu.get("signatures")
    if not isinstance(signatures, dict):
        raise _bad("'signatures' must be an object")
    for by_server in signatures.values():
        if not isinstance(by_server, dict) or not all(
            isinstance(sig, str) for sig in by_server.values()
        ):
            raise _bad("'signatures' must map server names to objects of strings")


def _check_redacts(pdu: JsonDict, room_version: RoomVersion) -> None:
    # Only the type is checked: a redaction without a target is useless but well formed, and
    # dropping it would leave a hole in the room's DAG.
    if pdu.get("type") != M_ROOM_REDACTION:
        return
    holder = pdu["content"] if room_version.redacts_in_content else pdu
    if "redacts" in holder and not isinstance(holder["redacts"], str):
        where = "content.redacts" if room_version.redacts_in_content else "redacts"
        raise _bad(f"'{where}' must be a string")

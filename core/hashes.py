"""Event hashes, event IDs and event signatures (server-server spec "Signing Events").

- The *content hash* covers the whole event except `unsigned`, `signatures` and `hashes`, so
  a receiver can tell whether it got the full event or a redacted copy.
- The *reference hash* covers the redacted event (which still includes `hashes`) without
  `signatures` and `unsigned`; in room versions 4+ the event ID is derived from it, so an event
  and its redaction share one ID.
- Event signatures cover the redacted event too, so they stay checkable after redaction.

Every function returns new dicts and leaves its input alone. Signature failures raise
`core.signing.SignatureError`.
"""

from __future__ import annotations

import hashlib
import hmac

from core.base64 import decode_unpadded, encode_unpadded
from core.canonical_json import encode_canonical
from core.errors import JsonDict
from core.redaction import redact
from core.room_versions import RoomVersion
from core.signing import SigningKey, VerifyKey, sign_json, verify_json_signature

__all__ = [
    "add_content_hash",
    "add_event_signature",
    "check_content_hash",
    "compute_content_hash",
    "compute_event_id",
    "compute_reference_hash",
    "compute_room_id",
    "sign_event",
    "verify_event_signature",
]


def compute_content_hash(pdu: JsonDict) -> bytes:
    """The SHA-256 content hash of `pdu` (raw 32 bytes).

    Raises:
        ValueError: If the event is not canonical-JSON encodable.
    """
    stripped = {k: v for k, v in pdu.items() if k not in ("unsigned", "signatures", "hashes")}
    return hashlib.sha256(encode_canonical(stripped)).digest()


def add_content_hash(pdu: JsonDict) -> JsonDict:
    """A copy of `pdu` with `hashes.sha256` set to its content hash; other hashes are kept."""
    existing = pdu.get("hashes")
    hashes = dict(existing) if isinstance(existing, dict) else {}
    hashes["sha256"] = encode_unpadded(compute_content_hash(pdu))
    return {**pdu, "hashes": hashes}


def check_content_hash(pdu: JsonDict) -> bool:
    """Whether `hashes.sha256` of `pdu` matches its content.

    False means the event must be treated as redacted: either it was altered, we were sent a
    redacted copy, or the hash is missing or not Base64.
    """
    hashes = pdu.get("hashes")
    claimed = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(claimed, str):
        return False
    try:
        expected = decode_unpadded(claimed)
        actual = compute_content_hash(pdu)
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def compute_reference_hash(pdu: JsonDict, room_version: RoomVersion) -> bytes:
    """The SHA-256 reference hash of `pdu` (raw 32 bytes).

    Raises:
        ValueError: If the redacted event is not canonical-JSON encodable.
    """
    redacted = redact(pdu, room_version)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    return hashlib.sha256(encode_canonical(redacted)).digest()


def compute_event_id(pdu: JsonDict, room_version: RoomVersion) -> str:
    """The event ID of `pdu`: `$` + URL-safe unpadded Base64 of its reference hash.

    Raises:
        ValueError: If the room version does not derive event IDs from reference hashes, or
            the event is not canonical-JSON encodable.
    """
    if not room_version.event_id_from_reference_hash:
        raise ValueError(f"room version {room_version.identifier} has server-assigned event IDs")
    return "$" + encode_unpadded(compute_reference_hash(pdu, room_version), urlsafe=True)


def compute_room_id(create_pdu: JsonDict, room_version: RoomVersion) -> str:
    """The room ID a create event makes in versions that derive it (v12): its event ID, `!`-sigilled.

    Args:
        create_pdu: The `m.room.create` event in federation format, without `room_id`.
        room_version: The room's version.

    Raises:
        ValueError: If the room version does not derive room IDs from the create event, or
            the event is not canonical-JSON encodable.
    """
    if not room_version.room_id_from_create_event:
        raise ValueError(f"room version {room_version.identifier} has server-assigned room IDs")
    return "!" + compute_event_id(create_pdu, room_version)[1:]


def add_event_signature(
    pdu: JsonDict, server_name: str, key: SigningKey, room_version: RoomVersion
) -> JsonDict:
    """A copy of `pdu` with `server_name`'s signature over its redacted form added.

    `hashes` is left as it is, which is what co-signing someone else's event needs (a
    resident server signing a join, an invitee's server signing an invite).
    """
    signed = sign_json(redact(pdu, room_version), server_name, key)
    return {**pdu, "signatures": signed["signatures"]}


def sign_event(
    pdu: JsonDict, server_name: str, key: SigningKey, room_version: RoomVersion
) -> JsonDict:
    """Hash and sign an outgoing event: content hash first, then the redacted-form signature.

    Args:
        pdu: The event in federation format, without `event_id` in room versions 4+.
        server_name: Our server name, the key under `signatures`.
        key: Our signing key.
        room_version: The room's version; decides what the redacted form keeps.

    Returns:
        A new dict with `hashes.sha256` and `signatures[server_name][key.key_id]` set; existing
        signatures and `unsigned` are kept.
    """
    return add_event_signature(add_content_hash(pdu), server_name, key, room_version)


def verify_event_signature(
    pdu: JsonDict,
    server_name: str,
    key_id: str,
    verify_key: VerifyKey,
    room_version: RoomVersion,
) -> None:
    """Check `server_name`'s signature with `key_id` on the redacted form of `pdu`.

    Succeeds whether `pdu` is the full event or a redacted copy. Which servers must have
    signed, and with which unexpired keys, is the caller's business.

    Raises:
        SignatureError: If the signature is missing or does not verify.
    """
    verify_json_signature(redact(pdu, room_version), server_name, key_id, verify_key)

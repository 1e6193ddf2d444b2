"""Signed file events: a Tessera extension that binds a file to the device that sent it.

The sender's device signs, with its Ed25519 device key, the canonical JSON of

    {"sha256": <unpadded Base64 SHA-256 of the plaintext>, "size": <bytes>,
     "mimetype": ..., "room_id": ..., "sender": ...}

and puts it in the event content under `io.tessera.signed_file` as
`{"signed": {...}, "device_id": ..., "signatures": {sender: {"ed25519:<device_id>": sig}}}`.
The receiver recomputes the hash and size of what it downloaded (after decrypting, for an
encrypted file), checks room and sender against the event, and checks the signature against the
sender's device key from `/keys/query`.

Invariants: any mismatch raises (`AttachmentHashMismatch` for the bytes, `FileSignatureInvalid`
for the signature or the bound fields); only a fully checked file yields a `FileTrust` of
`VERIFIED` (the signing device is verified) or `UNVERIFIED_DEVICE` (valid signature from a
known device the user has not verified). `UNSIGNED` is reported for files without the key.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from core.base64 import decode_unpadded, encode_unpadded
from core.canonical_json import encode_canonical
from core.errors import JsonDict
from sdk.crypto._vodozemac import verify_ed25519
from sdk.crypto.errors import AttachmentHashMismatch, FileSignatureInvalid

__all__ = [
    "SIGNED_FILE_KEY",
    "FileTrust",
    "SignedFileCheck",
    "build_signed_file",
    "check_signed_file",
    "signed_file_claims",
]

SIGNED_FILE_KEY: Final = "io.tessera.signed_file"
_FIELDS: Final = ("sha256", "size", "mimetype", "room_id", "sender")


class FileTrust(enum.Enum):
    """How far a downloaded file can be trusted."""

    VERIFIED = "verified"
    UNVERIFIED_DEVICE = "unverified_device"
    UNSIGNED = "unsigned"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class SignedFileCheck:
    """The outcome of checking a file against its signature.

    Attributes:
        trust: `VERIFIED`, `UNVERIFIED_DEVICE` or `UNSIGNED` (never `INVALID`: that raises).
        device_id: The signing device, or None for an unsigned file.
    """

    trust: FileTrust
    device_id: str | None


def build_signed_file(
    plaintext: bytes,
    *,
    mimetype: str,
    room_id: str,
    sender: str,
    device_id: str,
    sign: Callable[[bytes], str],
) -> JsonDict:
    """The `io.tessera.signed_file` value for a file about to be sent.

    Args:
        plaintext: The file's bytes before any encryption.
        mimetype: The MIME type announced in the event.
        room_id: The room the event goes to.
        sender: The sending user ID.
        device_id: The sending device ID.
        sign: Signs bytes with the device's Ed25519 key, returning unpadded Base64.
    """
    signed = {
        "sha256": encode_unpadded(hashlib.sha256(plaintext).digest()),
        "size": len(plaintext),
        "mimetype": mimetype,
        "room_id": room_id,
        "sender": sender,
    }
    signature = sign(encode_canonical(signed))
    return {
        "signed": signed,
        "device_id": device_id,
        "signatures": {sender: {f"ed25519:{device_id}": signature}},
    }


def signed_file_claims(content: JsonDict) -> JsonDict | None:
    """The `io.tessera.signed_file` object of an event content, or None if absent."""
    value = content.get(SIGNED_FILE_KEY)
    return value if isinstance(value, dict) else None


def _check_fields(signed: object, *, room_id: str, sender: str) -> JsonDict:
    if not isinstance(signed, dict) or any(name not in signed for name in _FIELDS):
        raise FileSignatureInvalid("signed file object is malformed")
    if signed["room_id"] != room_id:
        raise FileSignatureInvalid("file was signed for a different room")
    if signed["sender"] != sender:
        raise FileSignatureInvalid("file was signed by a different sender")
    return signed


def _check_bytes(signed: JsonDict, plaintext: bytes) -> None:
    try:
        expected = decode_unpadded(str(signed["sha256"]))
    except ValueError as exc:
        raise FileSignatureInvalid("signed sha256 is not Base64") from exc
    if not hmac.compare_digest(hashlib.sha256(plaintext).digest(), expected):
        raise AttachmentHashMismatch("file content does not match its signed SHA-256")
    if signed["size"] != len(plaintext):
        raise AttachmentHashMismatch("file size does not match its signed size")


def check_signed_file(
    claims: JsonDict,
    plaintext: bytes,
    *,
    room_id: str,
    sender: str,
    device_key: Callable[[str], tuple[str, bool] | None],
) -> SignedFileCheck:
    """Check a downloaded (and decrypted) file against its signed claims.

    Args:
        claims: The `io.tessera.signed_file` object from the event.
        plaintext: The file's bytes.
        room_id: The event's room.
        sender: The event's sender.
        device_key: Looks up `(ed25519 key, verified)` of one of the sender's devices by
            device ID, or None if the sender has no such device.

    Raises:
        AttachmentHashMismatch: The bytes differ from the signed hash or size.
        FileSignatureInvalid: Malformed claims, a different room or sender, an unknown
            device, or a signature that does not verify.
    """
    signed = _check_fields(claims.get("signed"), room_id=room_id, sender=sender)
    device_id = claims.get("device_id")
    if not isinstance(device_id, str):
        raise FileSignatureInvalid("signed file names no device")
    signatures = claims.get("signatures")
    by_sender = signatures.get(sender) if isinstance(signatures, dict) else None
    signature = by_sender.get(f"ed25519:{device_id}") if isinstance(by_sender, dict) else None
    if not isinstance(signature, str):
        raise FileSignatureInvalid("signed file carries no signature from its device")
    known = device_key(device_id)
    if known is None:
        raise FileSignatureInvalid(f"{sender} has no device {device_id} to check the signature")
    public_key, verified = known
    try:
        message = encode_canonical(signed)
    except ValueError as exc:
        raise FileSignatureInvalid("signed file object is not canonical JSON") from exc
    if not verify_ed25519(public_key, message, signature):
        raise FileSignatureInvalid("file signature does not verify against the device key")
    _check_bytes(signed, plaintext)
    trust = FileTrust.VERIFIED if verified else FileTrust.UNVERIFIED_DEVICE
    return SignedFileCheck(trust, device_id)

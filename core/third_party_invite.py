"""The signature check of third-party invites (auth rule 4.4.1.7 of room versions 10 and 11).

An `m.room.member` invite built from an `m.room.third_party_invite` carries a `signed` object
(`mxid`, `token`, `signatures`) signed by an identity server. The auth rules allow it if any
signature in `signed` verifies with any public key in the `m.room.third_party_invite` content:
`public_key` and each `public_keys[].public_key`, in unpadded base64 (standard or URL-safe).

This module checks only the signature; whether the key was revoked (`key_validity_url`) needs
I/O and is not part of the auth rules. Pure functions; malformed input is "not signed".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from core.base64 import decode_unpadded
from core.signing import signable_bytes

_ED25519_KEY_BYTES = 32


def decode_unpadded_base64(value: str) -> bytes | None:
    """Decode unpadded base64 in the standard or URL-safe alphabet; None if it is neither."""
    for urlsafe in (False, True):
        try:
            return decode_unpadded(value, urlsafe=urlsafe)
        except ValueError:
            continue
    return None


def public_keys_of(invite_content: Mapping[str, Any]) -> list[bytes]:
    """The decodable Ed25519 public keys of an `m.room.third_party_invite`'s content."""
    encoded: list[object] = [invite_content.get("public_key")]
    extra = invite_content.get("public_keys")
    if isinstance(extra, list):
        encoded.extend(item.get("public_key") for item in extra if isinstance(item, dict))
    keys = []
    for value in encoded:
        raw = decode_unpadded_base64(value) if isinstance(value, str) else None
        if raw is not None and len(raw) == _ED25519_KEY_BYTES:
            keys.append(raw)
    return keys


def _signatures(signed: Mapping[str, Any]) -> Iterator[bytes]:
    """Every decodable `ed25519:*` signature in `signed.signatures`, from any signer."""
    by_server = signed.get("signatures")
    if not isinstance(by_server, dict):
        return
    for by_key in by_server.values():
        if not isinstance(by_key, dict):
            continue
        for key_id, signature in by_key.items():
            if not (isinstance(key_id, str) and key_id.startswith("ed25519:")):
                continue
            raw = decode_unpadded_base64(signature) if isinstance(signature, str) else None
            if raw is not None:
                yield raw


def signed_by_any_key(signed: Mapping[str, Any], invite_content: Mapping[str, Any]) -> bool:
    """Whether any signature in `signed` verifies with any key of the third-party invite.

    Args:
        signed: `content.third_party_invite.signed` of the member event.
        invite_content: The content of the matching `m.room.third_party_invite` event.

    Returns:
        True if some `ed25519` signature over the canonical JSON of `signed` (without
        `signatures` and `unsigned`) verifies with one of the invite's public keys.
    """
    try:
        message = signable_bytes(signed)
    except ValueError:
        return False
    signatures = list(_signatures(signed))
    for key in public_keys_of(invite_content):
        verify_key = VerifyKey(key)
        for signature in signatures:
            try:
                verify_key.verify(message, signature)
            except (BadSignatureError, ValueError):
                continue
            return True
    return False

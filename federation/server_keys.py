"""Server key documents (Server-Server API "Publishing Keys"), ours and remote ones.

Ours: `server_key_document` builds the signed body of `GET /_matrix/key/v2/server` from our
current signing key and the keys we used before. Theirs: `verify_key_document` turns a remote
document into keys we may trust, or refuses it.

Invariants of an accepted remote document: it names the server we asked about; it lists at
least one ed25519 key; it is signed by every ed25519 key it lists under `verify_keys` (so a
document whose self-signature fails is never accepted, whoever relayed it); each current key's
validity is `valid_until_ts` capped at 7 days after we received it, as the spec requires; old
keys are valid until their `expired_ts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import (
    ED25519,
    SignatureError,
    SigningKey,
    VerifyKey,
    decode_verify_key,
    sign_json,
    verify_json_signature,
)
from federation.ports import StoredServerKey

__all__ = [
    "MAX_KEY_VALIDITY_MS",
    "KeyDocumentError",
    "OldVerifyKey",
    "server_key_document",
    "verify_key_document",
]

MAX_KEY_VALIDITY_MS: Final = 7 * 24 * 3600 * 1000


class KeyDocumentError(SignatureError):
    """A server key document that is malformed, misattributed or not validly self-signed."""


@dataclass(frozen=True, slots=True)
class OldVerifyKey:
    """A key we signed with before, published under `old_verify_keys`.

    Attributes:
        verify_key: The public half of the retired key.
        expired_ts: When we stopped using it (ms since the epoch).
    """

    verify_key: VerifyKey
    expired_ts: int


def server_key_document(
    server_name: str,
    signing_key: SigningKey,
    valid_until_ts: int,
    old_keys: Iterable[OldVerifyKey] = (),
) -> JsonDict:
    """Our signed key document for `GET /_matrix/key/v2/server`.

    Args:
        server_name: Our server name.
        signing_key: The current key; it is listed in `verify_keys` and signs the document.
        valid_until_ts: Until when others may cache the current key (ms since the epoch).
        old_keys: Retired keys, listed in `old_verify_keys` with their `expired_ts`.
    """
    document: JsonDict = {
        "server_name": server_name,
        "valid_until_ts": valid_until_ts,
        "verify_keys": {signing_key.key_id: {"key": signing_key.verify_key.encode()}},
        "old_verify_keys": {
            old.verify_key.key_id: {"key": old.verify_key.encode(), "expired_ts": old.expired_ts}
            for old in old_keys
        },
    }
    return sign_json(document, server_name, signing_key)


def verify_key_document(
    document: object, *, server_name: ServerName, fetched_from: ServerName, now_ms: int
) -> list[StoredServerKey]:
    """Check a remote server's key document and return the keys it vouches for.

    Args:
        document: The parsed JSON document, as received (directly or from a notary).
        server_name: The server whose keys we asked for.
        fetched_from: Who served it (recorded with the keys).
        now_ms: The time of receipt, for the 7-day cap.

    Raises:
        KeyDocumentError: If the document is malformed, names another server, lists no ed25519
            key, or is not signed by each ed25519 key it lists.
    """
    if not isinstance(document, dict):
        raise KeyDocumentError("key document is not an object")
    if document.get("server_name") != server_name:
        raise KeyDocumentError("key document is for another server")
    valid_until = document.get("valid_until_ts")
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise KeyDocumentError("key document lacks an integer valid_until_ts")
    current = _parse_keys(document.get("verify_keys"), "verify_keys")
    if not current:
        raise KeyDocumentError("key document lists no ed25519 verify key")
    for key in current.values():
        try:
            verify_json_signature(document, server_name, key.key_id, key)
        except SignatureError as exc:
            raise KeyDocumentError(f"key document self-signature fails: {exc}") from None
    until = min(valid_until, now_ms + MAX_KEY_VALIDITY_MS)
    keys = [StoredServerKey(server_name, key, until, fetched_from) for key in current.values()]
    keys.extend(_old_keys(document.get("old_verify_keys"), server_name, fetched_from, current))
    return keys


def _parse_keys(section: object, name: str) -> dict[str, VerifyKey]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise KeyDocumentError(f"{name} is not an object")
    keys: dict[str, VerifyKey] = {}
    for key_id, entry in section.items():
        if not key_id.startswith(f"{ED25519}:"):
            continue  # algorithms we do not support are ignored, not fatal
        encoded = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(encoded, str):
            raise KeyDocumentError(f"{name}.{key_id} has no key")
        try:
            keys[key_id] = decode_verify_key(key_id, encoded)
        except ValueError as exc:
            raise KeyDocumentError(f"{name}.{key_id}: {exc}") from None
    return keys


def _old_keys(
    section: object,
    server_name: ServerName,
    fetched_from: ServerName,
    current: dict[str, VerifyKey],
) -> list[StoredServerKey]:
    old = _parse_keys(section, "old_verify_keys")
    entries = section if isinstance(section, dict) else {}
    keys: list[StoredServerKey] = []
    for key_id, key in old.items():
        if key_id in current:
            continue  # a key cannot be both current and retired; the current entry wins
        expired = entries[key_id].get("expired_ts")
        if not isinstance(expired, int) or isinstance(expired, bool):
            raise KeyDocumentError(f"old_verify_keys.{key_id} lacks an integer expired_ts")
        keys.append(StoredServerKey(server_name, key, expired, fetched_from))
    return keys

"""Cross-signing keys (master, self-signing, user-signing) and the signatures uploaded on keys.

Keys are replaced as a set in one transaction together with the device-list change that makes
room-mates re-query them. Signatures are stored apart from the signed objects and merged in
when keys are read; which ones a viewer may see is decided by `signatures_on`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.canonical_json import encode_canonical
from core.errors import JsonDict
from core.identifiers import UserId
from homeserver.storage.database import Database
from homeserver.storage.e2ee.device_lists import record_change
from homeserver.storage.sealing import CROSS_SIGNING_KEYS, Sealer

MASTER = "master"
SELF_SIGNING = "self_signing"
USER_SIGNING = "user_signing"


@dataclass(frozen=True, slots=True)
class CrossSigningKey:
    """A stored cross-signing key: its type, unpadded Base64 public key and signed JSON."""

    key_type: str
    public_key: str
    key_json: JsonDict


@dataclass(frozen=True, slots=True)
class NewSignature:
    """A verified signature to store: who signed which key (device ID or master public key)."""

    signer_user_id: UserId
    signer_key_id: str
    target_user_id: UserId
    target_key_id: str
    signature: str


# signatures[target_key_id][signer_user_id][signer_key_id] = signature
Signatures = dict[str, dict[UserId, dict[str, str]]]


def merge_signatures(key: JsonDict, extra: Mapping[UserId, Mapping[str, str]]) -> JsonDict:
    """A copy of a signed key object with the stored signatures `extra` added."""
    merged = copy.deepcopy(key)
    if extra:
        signatures: dict[str, dict[str, str]] = merged.setdefault("signatures", {})
        for signer, by_key in extra.items():
            signatures.setdefault(signer, {}).update(by_key)
    return merged


def sealed_key_json(sealer: Sealer, user_id: UserId, key_type: str, key_json: JsonDict) -> str:
    """The stored `key_json` of a user's cross-signing key: canonical JSON, sealed."""
    return sealer.seal(CROSS_SIGNING_KEYS, (user_id, key_type), encode_canonical(key_json).decode())


class CrossSigningStore:
    """Reads and writes `e2e_cross_signing_keys` (key JSON sealed by `sealer`) and
    `e2e_cross_signing_signatures`."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def get_keys(self, user_id: UserId) -> dict[str, CrossSigningKey]:
        """The user's current cross-signing keys by type (unreadable ones skipped)."""
        rows = await self._db.fetch_all(
            "SELECT user_id, key_type, public_key, key_json FROM e2e_cross_signing_keys"
            " WHERE user_id = $1",
            user_id,
        )
        return {
            r["key_type"]: CrossSigningKey(r["key_type"], r["public_key"], key_json)
            for r, key_json in self._sealer.readable(rows, CROSS_SIGNING_KEYS)
            if isinstance(key_json, dict)
        }

    async def set_keys(self, user_id: UserId, keys: Sequence[CrossSigningKey]) -> None:
        """Store new keys (replacing those of the same types) and record a device-list change."""
        async with self._db.transaction() as conn:
            for key in keys:
                await conn.execute(
                    "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key_type) DO UPDATE SET"
                    " public_key = excluded.public_key, key_json = excluded.key_json",
                    user_id,
                    key.key_type,
                    key.public_key,
                    sealed_key_json(self._sealer, user_id, key.key_type, key.key_json),
                )
            await record_change(conn, user_id)

    async def add_signatures(
        self, signatures: Sequence[NewSignature], changes: Mapping[UserId, UserId | None]
    ) -> None:
        """Store verified signatures and record a device-list change per `changes` entry.

        Args:
            signatures: The signatures.
            changes: Changed user ID → the one observer who may see it (None: everyone sharing
                a room).
        """
        async with self._db.transaction() as conn:
            for s in signatures:
                await conn.execute(
                    "INSERT INTO e2e_cross_signing_signatures (signer_user_id, signer_key_id,"
                    " target_user_id, target_key_id, signature) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)"
                    " DO UPDATE SET signature = excluded.signature",
                    s.signer_user_id,
                    s.signer_key_id,
                    s.target_user_id,
                    s.target_key_id,
                    s.signature,
                )
            for user_id, observer in changes.items():
                await record_change(conn, user_id, observer)

    async def signatures_on(self, target_user_id: UserId, viewer: UserId) -> Signatures:
        """Uploaded signatures on the user's keys that `viewer` may see.

        Those made by the key's owner (self-signing key on devices, devices on the master key)
        and those made by the viewer (its user-signing key on another user's master key).
        """
        rows = await self._db.fetch_all(
            "SELECT target_key_id, signer_user_id, signer_key_id, signature"
            " FROM e2e_cross_signing_signatures"
            " WHERE target_user_id = $1 AND (signer_user_id = $1 OR signer_user_id = $2)",
            target_user_id,
            viewer,
        )
        result: Signatures = {}
        for r in rows:
            by_signer = result.setdefault(r["target_key_id"], {})
            by_signer.setdefault(UserId(r["signer_user_id"]), {})[r["signer_key_id"]] = r[
                "signature"
            ]
        return result

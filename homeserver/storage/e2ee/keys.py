"""Device keys, one-time keys and fallback keys of each device.

Invariants:

- An upload is one transaction: device keys, one-time keys and fallback keys are stored
  together or not at all (a conflict raises `KeyConflict` and rolls everything back).
- A device's identity keys never change once stored; only their signatures may.
- A one-time key is handed out at most once: a claim deletes it with a statement whose row
  count proves this claimer won it, so concurrent claimers on PostgreSQL never share a key.
- Deleting a device (`delete_device_e2e_rows`) removes its keys, its to-device inbox and the
  signatures on it, and records a device-list change, in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.canonical_json import encode_canonical
from core.errors import JsonDict
from core.identifiers import DeviceId, UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.e2ee.device_lists import record_change
from homeserver.storage.ephemeral.to_device import delete_device_inbox
from homeserver.storage.streams import next_position


class KeyConflict(ValueError):
    """An upload would change a stored identity key or one-time key."""


@dataclass(frozen=True, slots=True)
class OneTimeKey:
    """A one-time or fallback key: `<algorithm>:<key_id>` and its value (string or object)."""

    algorithm: str
    key_id: str
    value: JsonDict | str

    @property
    def name(self) -> str:
        """`<algorithm>:<key_id>`, its name in requests and responses."""
        return f"{self.algorithm}:{self.key_id}"


@dataclass(frozen=True, slots=True)
class DeviceKeysRow:
    """A device's stored keys with its current display name."""

    device_id: DeviceId
    keys: JsonDict
    display_name: str | None


def _encode(value: JsonDict | str) -> str:
    return encode_canonical(value).decode()


class E2eKeyStore:
    """Reads and writes `e2e_device_keys`, `e2e_one_time_keys` and `e2e_fallback_keys`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_device_keys(self, user_id: UserId, device_id: DeviceId) -> JsonDict | None:
        """A device's signed device keys, or None."""
        value = await self._db.fetch_val(
            "SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        return json.loads(value) if value is not None else None

    async def upload(
        self,
        user_id: UserId,
        device_id: DeviceId,
        device_keys: JsonDict | None,
        one_time_keys: Sequence[OneTimeKey],
        fallback_keys: Sequence[OneTimeKey],
    ) -> bool:
        """Store an upload atomically; True if the device keys changed (a device-list change).

        Raises:
            KeyConflict: Device keys with other identity keys than those stored, or a
                one-time key ID already stored with other content. Nothing is stored.
        """
        async with self._db.transaction() as conn:
            changed = False
            if device_keys is not None:
                changed = await _store_device_keys(conn, user_id, device_id, device_keys)
            if one_time_keys:
                await _store_one_time_keys(conn, user_id, device_id, one_time_keys)
            for key in fallback_keys:
                await _store_fallback_key(conn, user_id, device_id, key)
            if changed:
                await record_change(conn, user_id)
        return changed

    async def one_time_key_counts(self, user_id: UserId, device_id: DeviceId) -> dict[str, int]:
        """Unclaimed one-time keys of a device per algorithm."""
        rows = await self._db.fetch_all(
            "SELECT algorithm, COUNT(*) AS n FROM e2e_one_time_keys"
            " WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm",
            user_id,
            device_id,
        )
        return {r["algorithm"]: int(r["n"]) for r in rows}

    async def unused_fallback_algorithms(self, user_id: UserId, device_id: DeviceId) -> list[str]:
        """Algorithms for which the device has a fallback key not yet handed out, sorted."""
        rows = await self._db.fetch_all(
            "SELECT algorithm FROM e2e_fallback_keys"
            " WHERE user_id = $1 AND device_id = $2 AND used = 0 ORDER BY algorithm",
            user_id,
            device_id,
        )
        return [r["algorithm"] for r in rows]

    async def device_keys_of(
        self, user_id: UserId, device_ids: Collection[str] | None
    ) -> list[DeviceKeysRow]:
        """Keys of the user's devices (all when `device_ids` is None) that uploaded any.

        `device_ids` filters as a client asked, so it may hold strings that name no device.
        """
        rows = await self._db.fetch_all(
            "SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k"
            " JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id"
            " WHERE k.user_id = $1 ORDER BY k.device_id",
            user_id,
        )
        wanted = set(device_ids) if device_ids is not None else None
        return [
            DeviceKeysRow(DeviceId(r["device_id"]), json.loads(r["key_json"]), r["display_name"])
            for r in rows
            if wanted is None or r["device_id"] in wanted
        ]

    async def claim(
        self, user_id: UserId, device_id: DeviceId, algorithm: str
    ) -> OneTimeKey | None:
        """Take the oldest one-time key of `algorithm`, else the fallback key (marked used)."""
        while True:
            row = await self._db.fetch_one(
                "SELECT key_id, key_json FROM e2e_one_time_keys"
                " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3"
                " ORDER BY upload_seq, key_id LIMIT 1",
                user_id,
                device_id,
                algorithm,
            )
            if row is None:
                break
            won = await self._db.execute(
                "DELETE FROM e2e_one_time_keys"
                " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4",
                user_id,
                device_id,
                algorithm,
                row["key_id"],
            )
            if won == 1:
                return OneTimeKey(algorithm, row["key_id"], json.loads(row["key_json"]))
            # Another claimer deleted it first: try the next key.
        return await self._claim_fallback(user_id, device_id, algorithm)

    async def _claim_fallback(
        self, user_id: UserId, device_id: DeviceId, algorithm: str
    ) -> OneTimeKey | None:
        async with self._db.transaction() as conn:
            row = await conn.fetch_one(
                "SELECT key_id, key_json FROM e2e_fallback_keys"
                " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3",
                user_id,
                device_id,
                algorithm,
            )
            if row is None:
                return None
            await conn.execute(
                "UPDATE e2e_fallback_keys SET used = 1"
                " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3",
                user_id,
                device_id,
                algorithm,
            )
        return OneTimeKey(algorithm, row["key_id"], json.loads(row["key_json"]))


async def _store_device_keys(
    conn: Connection, user_id: UserId, device_id: DeviceId, device_keys: JsonDict
) -> bool:
    stored = await conn.fetch_val(
        "SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2",
        user_id,
        device_id,
    )
    new_json = _encode(device_keys)
    if stored == new_json:
        return False
    if stored is not None and json.loads(stored).get("keys") != device_keys.get("keys"):
        raise KeyConflict("the device already has other identity keys")
    await conn.execute(
        "INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json",
        user_id,
        device_id,
        new_json,
    )
    return True


async def _store_one_time_keys(
    conn: Connection, user_id: UserId, device_id: DeviceId, keys: Sequence[OneTimeKey]
) -> None:
    seq = await next_position(conn, "one_time_keys")
    for key in keys:
        value = _encode(key.value)
        inserted = await conn.execute(
            "INSERT INTO e2e_one_time_keys"
            " (user_id, device_id, algorithm, key_id, key_json, upload_seq)"
            " VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (user_id, device_id, algorithm, key_id) DO NOTHING",
            user_id,
            device_id,
            key.algorithm,
            key.key_id,
            value,
            seq,
        )
        if inserted:
            continue
        stored = await conn.fetch_val(
            "SELECT key_json FROM e2e_one_time_keys"
            " WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4",
            user_id,
            device_id,
            key.algorithm,
            key.key_id,
        )
        if stored != value:
            raise KeyConflict(f"one-time key {key.name} already exists with other content")


async def _store_fallback_key(
    conn: Connection, user_id: UserId, device_id: DeviceId, key: OneTimeKey
) -> None:
    value = _encode(key.value)
    # Re-uploading the current fallback key keeps its `used` flag; a new key starts unused.
    await conn.execute(
        "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)"
        " VALUES ($1, $2, $3, $4, $5, 0)"
        " ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET"
        " key_id = excluded.key_id, key_json = excluded.key_json, used = 0"
        " WHERE e2e_fallback_keys.key_id <> excluded.key_id"
        " OR e2e_fallback_keys.key_json <> excluded.key_json",
        user_id,
        device_id,
        key.algorithm,
        key.key_id,
        value,
    )


async def delete_device_e2e_rows(conn: Connection, user_id: UserId, device_id: DeviceId) -> None:
    """Remove everything end-to-end about one device, in the caller's transaction."""
    for table in ("e2e_device_keys", "e2e_one_time_keys", "e2e_fallback_keys"):
        await conn.execute(
            f"DELETE FROM {table} WHERE user_id = $1 AND device_id = $2",  # noqa: S608
            user_id,
            device_id,
        )
    await conn.execute(
        "DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = $1 AND target_key_id = $2",
        user_id,
        device_id,
    )
    await delete_device_inbox(conn, user_id, device_id)
    await record_change(conn, user_id)

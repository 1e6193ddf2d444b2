"""Remote servers' verify keys (the keyring's `KeyStore`) and their relayed key documents.

Invariants: a key stored again keeps the larger of its two `valid_until_ts` (the port's rule);
a key document is stored as the object received, so relaying it keeps every signature valid;
only the latest document per server is kept.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import decode_verify_key
from federation.ports import StoredServerKey
from homeserver.storage.database import Database
from homeserver.storage.json_rows import dump_json, load_json

__all__ = ["ServerKeyStore", "StoredKeyDocument"]


@dataclass(frozen=True, slots=True)
class StoredKeyDocument:
    """A remote server's key document as received, with until when it is valid."""

    document: JsonDict
    valid_until_ts: int
    fetched_ts: int


class ServerKeyStore:
    """Reads and writes `server_verify_keys` and `server_key_documents`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_server_keys(
        self, server_name: ServerName, key_ids: Collection[str]
    ) -> Mapping[str, StoredServerKey]:
        """The stored keys of `server_name` among `key_ids`, by key ID."""
        wanted = set(key_ids)
        if not wanted:
            return {}
        rows = await self._db.fetch_all(
            "SELECT key_id, verify_key, valid_until_ts, fetched_from FROM server_verify_keys"
            " WHERE server_name = $1",
            server_name,
        )
        found: dict[str, StoredServerKey] = {}
        for row in rows:
            if row["key_id"] not in wanted:
                continue
            try:
                verify_key = decode_verify_key(row["key_id"], row["verify_key"])
            except ValueError:
                continue  # written by a check that no longer passes: treat as unknown
            found[row["key_id"]] = StoredServerKey(
                server_name=server_name,
                verify_key=verify_key,
                valid_until_ts=int(row["valid_until_ts"]),
                fetched_from=ServerName(row["fetched_from"]),
            )
        return found

    async def put_server_keys(self, keys: Collection[StoredServerKey]) -> None:
        """Store `keys`; an existing row keeps the larger `valid_until_ts`."""
        async with self._db.transaction() as conn:
            for key in keys:
                await conn.execute(
                    "INSERT INTO server_verify_keys"
                    " (server_name, key_id, verify_key, valid_until_ts, fetched_from)"
                    " VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (server_name, key_id) DO UPDATE SET"
                    " verify_key = excluded.verify_key,"
                    " valid_until_ts = excluded.valid_until_ts,"
                    " fetched_from = excluded.fetched_from"
                    " WHERE server_verify_keys.valid_until_ts < excluded.valid_until_ts",
                    key.server_name,
                    key.key_id,
                    key.verify_key.encode(),
                    key.valid_until_ts,
                    key.fetched_from,
                )

    async def get_key_document(self, server_name: ServerName) -> StoredKeyDocument | None:
        """The latest key document stored for `server_name`, if any."""
        row = await self._db.fetch_one(
            "SELECT document, valid_until_ts, fetched_ts FROM server_key_documents"
            " WHERE server_name = $1",
            server_name,
        )
        if row is None:
            return None
        document = load_json(row["document"], table="server_key_documents", key=server_name)
        if not isinstance(document, dict):
            return None
        return StoredKeyDocument(document, int(row["valid_until_ts"]), int(row["fetched_ts"]))

    async def put_key_document(
        self, server_name: ServerName, document: JsonDict, valid_until_ts: int, fetched_ts: int
    ) -> None:
        """Keep `document` as the latest key document of `server_name`."""
        await self._db.execute(
            "INSERT INTO server_key_documents (server_name, document, valid_until_ts, fetched_ts)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (server_name) DO UPDATE SET document = excluded.document,"
            " valid_until_ts = excluded.valid_until_ts, fetched_ts = excluded.fetched_ts",
            server_name,
            dump_json(document),
            valid_until_ts,
            fetched_ts,
        )

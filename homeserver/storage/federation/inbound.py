"""What inbound transactions leave behind: the answers of transactions already handled.

Invariants: an answered transaction is stored once per (origin, txn_id) and never changed;
answers older than the retention are deleted when new ones are stored. (Remote users' device
lists, which EDUs update, are kept by `storage.e2ee.remote_devices`.)
"""

from __future__ import annotations

from typing import Final

from core.errors import JsonDict
from core.identifiers import ServerName
from homeserver.storage.database import Database
from homeserver.storage.json_rows import dump_json, load_json

__all__ = ["InboundStore"]

TXN_RETENTION_MS: Final = 24 * 3600 * 1000


class InboundStore:
    """Reads and writes `federation_inbound_txns`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def transaction_response(self, origin: ServerName, txn_id: str) -> JsonDict | None:
        """The answer given to `origin`'s transaction `txn_id`, if it was handled."""
        text = await self._db.fetch_val(
            "SELECT response FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2",
            origin,
            txn_id,
        )
        value = load_json(text, table="federation_inbound_txns", key=txn_id)
        return value if isinstance(value, dict) else None

    async def put_transaction_response(
        self, origin: ServerName, txn_id: str, response: JsonDict, now_ms: int
    ) -> None:
        """Remember the answer to `origin`'s transaction `txn_id` (the first one stays)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM federation_inbound_txns WHERE received_ts < $1",
                now_ms - TXN_RETENTION_MS,
            )
            await conn.execute(
                "INSERT INTO federation_inbound_txns (origin, txn_id, response, received_ts)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (origin, txn_id) DO NOTHING",
                origin,
                txn_id,
                dump_json(response),
                now_ms,
            )

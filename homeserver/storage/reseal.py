"""The start-up pass that seals plaintext rows: the migration path to encryption at rest.

Rows written before encryption was switched on (or while it was off) hold plaintext. They read
as they are (see `sealing.py`), and this pass, started in the background at every start while
`database_encryption.unsealed_rows` says some may remain, seals them: each sealed column in turn
(`SEALED_COLUMNS`), in primary-key order, a batch per transaction, so every row is visited once
and the server keeps serving meanwhile. When a whole pass has run, the flag is cleared and
later starts skip it.

Invariants: a value is replaced only if it is still the plaintext that was read (compare and
set), so a concurrent write always wins; a value is sealed as the text it is, so a row that
does not read as JSON stays exactly as unreadable as it was (and is skipped on read as before).
An interrupted pass loses nothing: it starts again at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from homeserver.storage.at_rest import mark_unsealed_rows, unsealed_rows_may_exist
from homeserver.storage.database import Database
from homeserver.storage.sealing import SEALED_COLUMNS, SEALED_PREFIX, SealedColumn, Sealer

logger = logging.getLogger(__name__)

__all__ = ["BATCH", "reseal_plaintext_rows"]

BATCH: Final = 500


async def reseal_plaintext_rows(db: Database, sealer: Sealer, batch: int = BATCH) -> int:
    """Seal every plaintext value in the sealed columns; returns how many were sealed.

    Does nothing when the sealer does not seal or no plaintext row may remain.
    """
    if not sealer.seals or not await unsealed_rows_may_exist(db):
        return 0
    total = 0
    for column in SEALED_COLUMNS:
        sealed = await _reseal_column(db, sealer, column, batch)
        if sealed:
            logger.info(
                "database encryption: sealed plaintext rows table=%s column=%s rows=%d",
                column.table,
                column.column,
                sealed,
            )
        total += sealed
    await mark_unsealed_rows(db, False)
    return total


async def _reseal_column(db: Database, sealer: Sealer, column: SealedColumn, batch: int) -> int:
    keys = ", ".join(column.key)
    value = column.column
    sealed = 0
    after: list[Any] | None = None
    while True:
        bound = ""
        if after is not None:
            marks = ", ".join(f"${i + 2}" for i in range(len(after)))
            bound = f" AND ({keys}) > ({marks})"
        rows = await db.fetch_all(
            f"SELECT {keys}, {value} AS value FROM {column.table}"  # noqa: S608 (fixed names)
            f" WHERE {value} IS NOT NULL AND substr({value}, 1, {len(SEALED_PREFIX)}) <> $1"
            f"{bound} ORDER BY {keys} LIMIT {int(batch)}",
            SEALED_PREFIX,
            *(after or ()),
        )
        if not rows:
            return sealed
        where = " AND ".join(f"{name} = ${i + 3}" for i, name in enumerate(column.key))
        async with db.transaction() as conn:
            for row in rows:
                key = [row[name] for name in column.key]
                sealed += await conn.execute(
                    f"UPDATE {column.table} SET {value} = $1"  # noqa: S608 (fixed names)
                    f" WHERE {value} = $2 AND {where}",
                    sealer.seal(column, key, row["value"]),
                    row["value"],
                    *key,
                )
        after = [rows[-1][name] for name in column.key]
        await asyncio.sleep(0)  # let requests through between batches

"""Making deleted content gone from disk: the one place where the purge differs by dialect.

A deleted row is not yet gone from the files that held it. After a purge, a light scrub runs at
once and a deep one (which rewrites the search index) when it is due (`Purger` spaces them):

- SQLite: the writer connection runs with `secure_delete` on (`prepare`), so freed cells and
  pages are overwritten with zeros as rows are deleted or rewritten. Light: a `TRUNCATE`
  checkpoint copies the WAL into the database file and empties the WAL, so no old page image
  stays there. Deep: the full-text index is optimized first (a contentless FTS5 table forgets
  a document by adding a delete marker, and its terms stay in the older segment until segments
  are merged; `optimize` merges them all, and the freed pages are zeroed).
- PostgreSQL: light: `VACUUM` of the tables the purge changed frees the space of the dead row
  versions (compacting the pages). PostgreSQL never zeroes freed space, and a GIN index keeps
  the terms it has seen, so the deep scrub rewrites the search table and its index
  (`VACUUM FULL search_fts`) and runs a `CHECKPOINT`, which writes the compacted pages out
  (between deep scrubs the server's own checkpoints do, every `checkpoint_timeout`). Archived WAL and base backups keep what they held: they are
  the administrator's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Protocol

from homeserver.storage.database import Database

__all__ = ["Scrubber", "scrubber_for"]

logger = logging.getLogger(__name__)

_SEARCH: Final = "search_fts"
_TABLES: Final = (
    "events",
    "event_outliers",
    "room_summary",
    "federation_outbox",
    "search_fts",
    "notification_actions",
    "event_media",
    "media",
    "media_thumbnails",
    "remote_media",
    "remote_media_thumbnails",
)


class Scrubber(Protocol):
    """One backend's way of making deleted content unrecoverable from the database files."""

    async def prepare(self, db: Database) -> None:
        """Before deleting: make deletes overwrite what they free (where the backend can)."""
        ...

    async def horizon(self, db: Database) -> int | None:
        """After deletions committed: a mark that orders them before later transactions
        (None where no transaction can keep deleted rows alive)."""
        ...

    async def scrub(self, db: Database, *, deep: bool, horizon: int | None) -> bool:
        """After deleting: leave no copy of deleted content in the database's files (`deep`:
        the search index's too). Returns False when a transaction still running from before
        `horizon` may see the deleted rows, so that they could not all be removed yet."""
        ...


@dataclass(frozen=True, slots=True)
class _Sqlite:
    async def prepare(self, db: Database) -> None:
        await db.execute("PRAGMA secure_delete = ON")

    async def horizon(self, db: Database) -> int | None:
        return None

    async def scrub(self, db: Database, *, deep: bool, horizon: int | None) -> bool:
        await db.execute("PRAGMA secure_delete = ON")
        if deep:
            await db.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
        busy = await db.fetch_val("PRAGMA wal_checkpoint(TRUNCATE)")
        if busy:
            logger.info("purge: the WAL checkpoint waits for readers; the next purge retries")
        return not busy


@dataclass(frozen=True, slots=True)
class _Postgres:
    async def prepare(self, db: Database) -> None:
        return None

    async def horizon(self, db: Database) -> int | None:
        # Every transaction that committed so far has an ID below this one's xmax.
        return int(await db.fetch_val("SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))

    async def scrub(self, db: Database, *, deep: bool, horizon: int | None) -> bool:
        existing = await db.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        names = {str(r["table_name"]) for r in existing}
        # A snapshot taken before the deletions (in any database of the cluster: a snapshot's
        # xmin is cluster-wide) keeps their rows alive; VACUUM would copy them along.
        oldest = int(await db.fetch_val("SELECT pg_snapshot_xmin(pg_current_snapshot())::text"))
        complete = horizon is None or oldest >= horizon
        tables = [t for t in _TABLES if t in names and not (deep and complete and t == _SEARCH)]
        # VACUUM cannot run inside a transaction: each statement runs on its own.
        await db.execute(f"VACUUM {', '.join(tables)}")
        if deep and complete and _SEARCH in names:
            await db.execute(f"VACUUM FULL {_SEARCH}")
        if deep:
            try:
                await db.execute("CHECKPOINT")
            except Exception as exc:  # the role may lack pg_checkpoint: the server's own comes
                logger.info("purge: no CHECKPOINT (%s); the next automatic one writes them", exc)
        if not complete:
            logger.info("purge: an older transaction still runs; the scrub is retried")
        return complete


_BY_DIALECT: Final[dict[str, Scrubber]] = {"sqlite": _Sqlite(), "postgres": _Postgres()}


def scrubber_for(db: Database) -> Scrubber:
    """The scrubbing statements of `db`'s backend."""
    return _BY_DIALECT[db.dialect]

"""Looking for a marker on disk: in the SQLite files, in a `pg_dump` of a PostgreSQL database and
in its tables' files, and in the media store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

from tests.conftest import POSTGRES_ADMIN_URL


def files_holding(root: Path, marker: bytes) -> list[Path]:
    """Every file under `root` whose bytes contain `marker`."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if marker in path.read_bytes():
            found.append(path)
    return found


def sqlite_files(database_url: str) -> list[Path]:
    """The database file and its WAL (when there is one)."""
    path = Path(database_url.removeprefix("sqlite:///"))
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]


async def pg_dump(database_url: str) -> bytes:
    """The whole database as `pg_dump` writes it."""
    process = await asyncio.create_subprocess_exec(
        "pg_dump",
        "--no-owner",
        database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out


async def postgres_table_files(database_url: str, tables: tuple[str, ...]) -> list[Path]:
    """The files of the tables, their TOAST tables and their indexes, when this process may
    read them."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        data_dir = Path(await admin.fetchval("SHOW data_directory"))
    finally:
        await admin.close()
    conn = await asyncpg.connect(database_url)
    try:
        paths = []
        for table in tables:
            row = await conn.fetchrow(
                "SELECT pg_relation_filepath(c.oid) AS heap,"
                " pg_relation_filepath(NULLIF(c.reltoastrelid, 0)) AS toast"
                " FROM pg_class c WHERE c.oid = $1::regclass",
                table,
            )
            paths += [data_dir / str(v) for v in (row["heap"], row["toast"]) if v is not None]
            indexes = await conn.fetch(
                "SELECT pg_relation_filepath(indexrelid) AS path FROM pg_index"
                " WHERE indrelid = $1::regclass",
                table,
            )
            paths += [data_dir / str(r["path"]) for r in indexes if r["path"] is not None]
    finally:
        await conn.close()
    return [p for p in paths if p.exists() and os.access(p, os.R_OK)]


async def database_holds(database_url: str, marker: bytes) -> list[str]:
    """Where the database's files hold `marker` (empty when nowhere)."""
    if database_url.startswith("sqlite:"):
        return [str(p) for p in sqlite_files(database_url) if marker in p.read_bytes()]
    where = ["pg_dump"] if marker in await pg_dump(database_url) else []
    tables = ("events", "search_fts", "event_media")
    for table in tables:
        for path in await postgres_table_files(database_url, (table,)):
            if marker in path.read_bytes():
                where.append(f"{table}: {path}")
    return where

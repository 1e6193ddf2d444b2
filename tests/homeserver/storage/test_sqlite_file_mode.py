"""The SQLite database file and its -wal/-shm companions are private (0600), like the key files."""

from __future__ import annotations

import stat
from pathlib import Path

from homeserver.storage.sqlite import SqliteDatabase


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_new_database_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "homeserver.db"
    db = await SqliteDatabase.open(path)
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        await db.execute("INSERT INTO t (x) VALUES ($1)", 1)
        files = [path, path.with_name("homeserver.db-wal"), path.with_name("homeserver.db-shm")]
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        await db.close()


async def test_an_existing_open_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "homeserver.db"
    db = await SqliteDatabase.open(path)
    await db.close()
    path.chmod(0o644)
    db = await SqliteDatabase.open(path)
    await db.close()
    assert _mode(path) == 0o600

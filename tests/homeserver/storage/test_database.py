"""The `Database` abstraction on both backends: migrations, placeholders, transactions, results.

Each test gets an empty database (`database_url`), so scratch tables are created freely.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import asyncpg
import pytest

from homeserver.storage.database import Database, split_script
from homeserver.storage.factory import open_database, open_stores
from homeserver.storage.migrations import migrate

UNIQUE_VIOLATION = (sqlite3.IntegrityError, asyncpg.UniqueViolationError)

_ACCOUNT_TABLES = (
    "users",
    "devices",
    "access_tokens",
    "refresh_tokens",
    "profiles",
    "account_data",
    "stream_counters",
    "ui_auth_sessions",
    "registration_tokens",
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An open database with one scratch table `items`, no migrations run."""
    database = await open_database(database_url)
    await database.execute(
        "CREATE TABLE items (name TEXT PRIMARY KEY, colour TEXT, amount BIGINT NOT NULL)"
    )
    try:
        yield database
    finally:
        await database.close()


async def _insert(db: Database, *rows: tuple[str, str | None, int]) -> None:
    for row in rows:
        await db.execute("INSERT INTO items (name, colour, amount) VALUES ($1, $2, $3)", *row)


async def _names(db: Database) -> list[str]:
    return [r["name"] for r in await db.fetch_all("SELECT name FROM items ORDER BY name")]


# --- migrations -------------------------------------------------------------------------------


async def test_migrations_create_every_table(database_url: str) -> None:
    stores = await open_stores(database_url)
    try:
        for table in _ACCOUNT_TABLES:
            assert await stores.db.fetch_val(f"SELECT COUNT(*) FROM {table}") == 0  # noqa: S608
        assert await stores.db.fetch_val("SELECT MAX(version) FROM schema_version") >= 1
    finally:
        await stores.close()


async def test_migrations_are_idempotent(database_url: str) -> None:
    stores = await open_stores(database_url)
    try:
        versions = await stores.db.fetch_all("SELECT version FROM schema_version ORDER BY version")
        await stores.users.create_user("@alice:localhost", None, is_admin=False, now_ms=1)
    finally:
        await stores.close()

    reopened = await open_stores(database_url)
    try:
        again = await reopened.db.fetch_all("SELECT version FROM schema_version ORDER BY version")
        assert again == versions
        assert await migrate(reopened.db) == versions[-1]["version"]
        assert (
            await reopened.db.fetch_all("SELECT version FROM schema_version ORDER BY version")
            == versions
        )
        # Re-running migrations kept the data.
        assert await reopened.users.count_users() == 1
    finally:
        await reopened.close()


async def test_migrate_reports_each_version_once(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        reached = await migrate(db)
        assert reached >= 1
        rows = await db.fetch_all("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == sorted({r["version"] for r in rows})
        assert rows[-1]["version"] == reached
    finally:
        await db.close()


def test_split_script_skips_comments_and_blank_lines() -> None:
    script = "-- heading\nCREATE TABLE a (x INTEGER);\n\nCREATE TABLE b (\n  y TEXT\n);\n"
    assert split_script(script) == ["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (\n  y TEXT\n)"]


# --- placeholders -----------------------------------------------------------------------------


async def test_placeholders_out_of_order(db: Database) -> None:
    await db.execute("INSERT INTO items (amount, name, colour) VALUES ($3, $1, $2)", "a", "red", 7)
    assert await db.fetch_one("SELECT name, colour, amount FROM items") == {
        "name": "a",
        "colour": "red",
        "amount": 7,
    }


async def test_placeholder_repeated(db: Database) -> None:
    await _insert(db, ("red", "red", 1), ("blue", "red", 2), ("green", "green", 3))
    rows = await db.fetch_all(
        "SELECT name FROM items WHERE name = $1 OR colour = $1 ORDER BY name", "red"
    )
    assert [r["name"] for r in rows] == ["blue", "red"]


async def test_placeholders_repeated_and_reordered(db: Database) -> None:
    await _insert(db, ("a", "red", 1), ("b", "red", 5), ("c", "blue", 5))
    rows = await db.fetch_all(
        "SELECT name FROM items WHERE amount = $2 AND (colour = $1 OR name = $3)"
        " AND name <> $3 ORDER BY name",
        "red",
        5,
        "c",
    )
    assert [r["name"] for r in rows] == ["b"]


async def test_placeholder_ten_and_above(db: Database) -> None:
    # `$1` must not be mistaken for the prefix of `$10` or `$11`.
    args = [f"v{i}" for i in range(1, 12)]
    sql = (
        "INSERT INTO items (name, colour, amount)"
        " VALUES ($10 || $1, $11 || $2 || $3 || $4 || $5 || $6 || $7 || $8 || $9, 0)"
    )
    await db.execute(sql, *args)
    assert await db.fetch_one("SELECT name, colour FROM items") == {
        "name": "v10v1",
        "colour": "v11" + "".join(args[1:9]),
    }


async def test_dollar_in_values_is_data(db: Database) -> None:
    await _insert(db, ("$1", "$2 and ?1", 1))
    assert await db.fetch_val("SELECT colour FROM items WHERE name = $1", "$1") == "$2 and ?1"


# --- transactions -----------------------------------------------------------------------------


class _Boom(Exception):
    pass


async def test_transaction_commits_together(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO items (name, colour, amount) VALUES ($1, NULL, 1)", "a")
        await conn.execute("INSERT INTO items (name, colour, amount) VALUES ($1, NULL, 2)", "b")
        # The transaction sees its own writes.
        assert await conn.fetch_val("SELECT COUNT(*) FROM items") == 2
    assert await _names(db) == ["a", "b"]


async def _write_then_fail(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO items (name, colour, amount) VALUES ('new', NULL, 2)")
        await conn.execute("UPDATE items SET amount = 99 WHERE name = 'kept'")
        await conn.execute("DELETE FROM items WHERE name = 'kept'")
        raise _Boom


async def test_transaction_rolls_back_on_exception(db: Database) -> None:
    await _insert(db, ("kept", None, 1))
    with pytest.raises(_Boom):
        await _write_then_fail(db)
    assert await db.fetch_all("SELECT name, amount FROM items") == [{"name": "kept", "amount": 1}]


async def _insert_two(db: Database, first: str, second: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO items (name, colour, amount) VALUES ($1, NULL, 2)", first)
        await conn.execute("INSERT INTO items (name, colour, amount) VALUES ($1, NULL, 3)", second)


async def test_transaction_rolls_back_on_failed_statement(db: Database) -> None:
    await _insert(db, ("taken", None, 1))
    with pytest.raises(UNIQUE_VIOLATION):
        await _insert_two(db, "new", "taken")
    assert await _names(db) == ["taken"]
    # The database is usable afterwards.
    await _insert(db, ("after", None, 4))
    assert await _names(db) == ["after", "taken"]


async def test_execute_many_is_atomic(db: Database) -> None:
    await db.execute_many(
        "INSERT INTO items (name, colour, amount) VALUES ($1, $2, $3)",
        [("a", "red", 1), ("b", None, 2)],
    )
    assert await _names(db) == ["a", "b"]
    with pytest.raises(UNIQUE_VIOLATION):
        await db.execute_many(
            "INSERT INTO items (name, colour, amount) VALUES ($1, $2, $3)",
            [("c", None, 3), ("a", None, 4)],
        )
    assert await _names(db) == ["a", "b"]


async def test_run_script_is_one_transaction(db: Database) -> None:
    with pytest.raises(UNIQUE_VIOLATION):
        await db.run_script(
            "INSERT INTO items (name, colour, amount) VALUES ('x', NULL, 1);\n"
            "INSERT INTO items (name, colour, amount) VALUES ('x', NULL, 2);\n"
        )
    assert await _names(db) == []
    await db.run_script(
        "-- two rows\nINSERT INTO items (name, colour, amount) VALUES ('x', NULL, 1);\n"
        "INSERT INTO items (name, colour, amount) VALUES ('y', NULL, 2);\n"
    )
    assert await _names(db) == ["x", "y"]


@pytest.mark.parametrize("steps", range(8))
async def test_cancelled_transaction_leaves_the_writer_usable(db: Database, steps: int) -> None:
    """A transaction cancelled at any point (in BEGIN, a statement or COMMIT) leaves nothing open.

    The loop steps before the cancellation walk it through each await of the transaction.
    """

    async def write() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO items (name, amount) VALUES ($1, 1)", "a")

    task = asyncio.create_task(write())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO items (name, amount) VALUES ($1, 2)", "b")
    assert await _names(db) in (["a", "b"], ["b"])


# --- results ----------------------------------------------------------------------------------


async def test_fetch_one(db: Database) -> None:
    assert await db.fetch_one("SELECT name FROM items WHERE name = $1", "nope") is None
    await _insert(db, ("a", None, 1), ("b", "red", 2))
    row = await db.fetch_one("SELECT name, colour, amount FROM items ORDER BY name DESC")
    assert row == {"name": "b", "colour": "red", "amount": 2}
    assert isinstance(row, dict)


async def test_fetch_all(db: Database) -> None:
    assert await db.fetch_all("SELECT name FROM items") == []
    await _insert(db, ("a", None, 1), ("b", "red", 2))
    assert await db.fetch_all("SELECT name, colour FROM items ORDER BY name") == [
        {"name": "a", "colour": None},
        {"name": "b", "colour": "red"},
    ]


async def test_fetch_val(db: Database) -> None:
    assert await db.fetch_val("SELECT amount FROM items WHERE name = $1", "nope") is None
    await _insert(db, ("a", None, 2**40))
    assert await db.fetch_val("SELECT amount FROM items WHERE name = $1", "a") == 2**40
    assert await db.fetch_val("SELECT colour FROM items") is None  # a NULL value
    assert await db.fetch_val("SELECT COUNT(*) FROM items") == 1


async def test_execute_rowcount(db: Database) -> None:
    assert await db.execute("INSERT INTO items (name, colour, amount) VALUES ('a', 'red', 1)") == 1
    await _insert(db, ("b", "red", 2), ("c", "blue", 3))
    assert await db.execute("UPDATE items SET amount = amount + 1 WHERE colour = $1", "red") == 2
    assert await db.execute("UPDATE items SET amount = 0 WHERE name = $1", "nope") == 0
    assert await db.execute("DELETE FROM items WHERE colour = $1", "blue") == 1
    assert await db.execute("DELETE FROM items") == 2


async def test_transaction_connection_rowcount(db: Database) -> None:
    await _insert(db, ("a", None, 1), ("b", None, 2))
    async with db.transaction() as conn:
        assert await conn.execute("UPDATE items SET colour = 'x'") == 2
        assert await conn.execute("DELETE FROM items WHERE name = 'zzz'") == 0


# --- upserts ----------------------------------------------------------------------------------


async def test_upsert_on_conflict_do_update(db: Database) -> None:
    sql = (
        "INSERT INTO items (name, colour, amount) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET amount = items.amount + excluded.amount,"
        " colour = COALESCE(excluded.colour, items.colour)"
    )
    await db.execute(sql, "a", "red", 1)
    await db.execute(sql, "a", None, 10)
    await db.execute(sql, "b", None, 5)
    assert await db.fetch_all("SELECT name, colour, amount FROM items ORDER BY name") == [
        {"name": "a", "colour": "red", "amount": 11},
        {"name": "b", "colour": None, "amount": 5},
    ]


async def test_upsert_on_conflict_do_nothing(db: Database) -> None:
    sql = (
        "INSERT INTO items (name, colour, amount) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"
    )
    assert await db.execute(sql, "a", "red", 1) == 1
    assert await db.execute(sql, "a", "blue", 2) == 0
    assert await db.fetch_one("SELECT colour, amount FROM items") == {"colour": "red", "amount": 1}


async def test_update_returning(db: Database) -> None:
    await _insert(db, ("counter", None, 41))
    value = await db.fetch_val(
        "UPDATE items SET amount = amount + 1 WHERE name = $1 RETURNING amount", "counter"
    )
    assert value == 42

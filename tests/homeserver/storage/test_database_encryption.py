"""Encryption at rest through the live server, on both backends: what a dump of the database
holds after a message with a unique marker, a tampered row, and a wrong or missing key.

The issue: "A test dumps the database (SQLite file, `pg_dump`) after sending a message with a
unique marker in an unencrypted room and finds no plaintext marker outside the search index,
and the index itself holds tokens only."
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg
import pytest

from core.base64 import encode_unpadded
from homeserver.app.app_keys import STORES
from homeserver.config import Config
from homeserver.storage.database import Database
from homeserver.storage.sealing import SEALED_PREFIX
from tests.conftest import LiveServer, serving
from tests.e2e.process import assert_refused_start, free_port, run_to_exit, serve_command
from tests.homeserver.hardening.helpers import Raw, raw_user
from tests.homeserver.search.helpers import indexed, search_config

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
EXIT_TIMEOUT_S = 60.0
# Tables of the full-text index: FTS5's shadow tables on SQLite, the tsvector table on PostgreSQL.
INDEX_PREFIX = "search_fts"


def _markers() -> dict[str, str]:
    """One unique marker per kind of stored value (lower-case letters and digits: a term)."""
    kinds = ("message", "name", "topic", "account", "todevice", "backup")
    return {kind: f"zq{kind}{secrets.token_hex(5)}" for kind in kinds}


async def _fill(
    live: LiveServer, http: aiohttp.ClientSession, markers: dict[str, str]
) -> tuple[Raw, str]:
    """A public, unencrypted room and a marker in each kind of value; returns the sender and
    the message."""
    alice = await raw_user(http, live.url, "alice")
    bob = await raw_user(http, live.url, "bob")
    created = await alice.ok(
        "POST",
        "/createRoom",
        {
            "preset": "public_chat",
            "name": f"name {markers['name']}",
            "topic": f"topic {markers['topic']}",
        },
    )
    room = quote(created["room_id"])
    await bob.ok("POST", f"/join/{room}", {})
    body = f"the plan {markers['message']} starts at dawn"
    await alice.ok(
        "PUT", f"/rooms/{room}/send/m.room.message/t1", {"msgtype": "m.text", "body": body}
    )
    await alice.ok(
        "PUT", f"/user/{quote(alice.user_id)}/account_data/x.note", {"n": markers["account"]}
    )
    to_bob = {"messages": {bob.user_id: {"*": {"secret": markers["todevice"]}}}}
    await alice.ok("PUT", "/sendToDevice/m.test/d1", to_bob)
    backup = {"algorithm": ALGORITHM, "auth_data": {"public_key": "k", "signatures": {}}}
    version = (await bob.ok("POST", "/room_keys/version", backup))["version"]
    key = {"first_message_index": 0, "forwarded_count": 0, "is_verified": False}
    session = {**key, "session_data": {"ciphertext": markers["backup"]}}
    await bob.ok("PUT", f"/room_keys/keys/{room}/s1?version={version}", session)
    return alice, body


async def _dump(config: Config) -> bytes:
    """The database as an operator would copy it: the SQLite file with its WAL (and shared
    memory), or `pg_dump`'s output."""
    url = config.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    pg_dump = shutil.which("pg_dump")
    assert pg_dump is not None, "pg_dump is needed for the PostgreSQL dump"
    process = await asyncio.create_subprocess_exec(
        pg_dump,
        "--no-owner",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT_S)
    assert process.returncode == 0, err.decode()
    return out


async def _tables_holding(db: Database, marker: str) -> set[str]:
    """The tables with a row holding `marker` in any column (text or bytes), read through SQL."""
    found: set[str] = set()
    if db.dialect == "sqlite":
        names = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
        for row in names:
            for values in await db.fetch_all(f'SELECT * FROM "{row["name"]}"'):  # noqa: S608
                if any(_holds(v, marker) for v in values.values()):
                    found.add(str(row["name"]))
        return found
    names = await db.fetch_all(
        "SELECT table_name AS name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    for row in names:
        rows = await db.fetch_all(f'SELECT t::text AS r FROM "{row["name"]}" t')  # noqa: S608
        if any(marker in str(r["r"]) for r in rows):
            found.add(str(row["name"]))
    return found


def _holds(value: object, marker: str) -> bool:
    if isinstance(value, str):
        return marker in value
    if isinstance(value, bytes | memoryview):
        return marker.encode() in bytes(value)
    return False


async def test_a_dump_holds_no_plaintext_outside_the_search_index(
    database_url: str, tmp_path: Path
) -> None:
    markers = _markers()
    config = search_config(database_url, tmp_path / "data")
    async with aiohttp.ClientSession() as http, serving(config) as live:
        alice, body = await _fill(live, http, markers)
        await indexed(live)
        for kind in ("message", "name", "topic"):
            criteria = {"search_term": markers[kind], "keys": [f"content.{kind}"]}
            if kind == "message":
                criteria["keys"] = ["content.body"]
            found = await alice.ok(
                "POST", "/search", {"search_categories": {"room_events": criteria}}
            )
            assert found["search_categories"]["room_events"]["count"] == 1, kind
        db = live.app[STORES].db
        holding = {kind: await _tables_holding(db, m) for kind, m in markers.items()}
        dump = await _dump(config)
        sealed = await db.fetch_val("SELECT json FROM events WHERE event_type = 'm.room.message'")
    assert str(sealed).startswith(SEALED_PREFIX)
    # Sealed values hold no marker; the index holds the indexed ones as terms.
    for kind in ("account", "todevice", "backup"):
        assert holding[kind] == set(), kind
        assert markers[kind].encode() not in dump, kind
    for kind in ("message", "name", "topic"):
        # Found by search, so in the index as a term; FTS5 stores terms prefix-compressed, so a
        # whole term may or may not show in its data blobs.
        assert all(t.startswith(INDEX_PREFIX) for t in holding[kind]), (kind, holding[kind])
        if config.database_url.startswith("postgres"):
            assert holding[kind] == {INDEX_PREFIX}, kind
    # Tokens only: the text as written is nowhere, not even in the index.
    assert body.encode() not in dump
    assert f"plan {markers['message']}".encode() not in dump
    if config.database_url.startswith("postgres"):
        # pg_dump: the marker is only in the index's table (its tsvector: 'term':position).
        for block in dump.split(b"\nCOPY "):
            if markers["message"].encode() in block:
                assert block.startswith(b"public.search_fts "), block[:200]


async def test_with_search_off_a_dump_holds_no_marker_at_all(
    database_url: str, tmp_path: Path
) -> None:
    markers = _markers()
    config = search_config(database_url, tmp_path / "data", enabled=False)
    async with aiohttp.ClientSession() as http, serving(config) as live:
        await _fill(live, http, markers)
        dump = await _dump(config)
        db = live.app[STORES].db
        holding = {kind: await _tables_holding(db, m) for kind, m in markers.items()}
    assert holding == {kind: set() for kind in markers}
    assert [kind for kind, m in markers.items() if m.encode() in dump] == []


async def _rewrite(config: Config, sql: str, *args: str) -> None:
    """Run one statement on the (stopped) server's database, around every store."""
    url = config.database_url
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql.replace("$1", "?1").replace("$2", "?2"), args)
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_tampered_and_moved_events_are_not_served(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = search_config(database_url, tmp_path / "data")
    async with aiohttp.ClientSession() as http:
        async with serving(config) as live:
            alice = await raw_user(http, live.url, "alice")
            room = quote((await alice.ok("POST", "/createRoom", {}))["room_id"])
            sent = [
                (
                    await alice.ok(
                        "PUT", f"/rooms/{room}/send/m.room.message/t{i}", {"body": f"m{i}"}
                    )
                )["event_id"]
                for i in range(3)
            ]
            stored = {
                event_id: str(
                    await live.app[STORES].db.fetch_val(
                        "SELECT json FROM events WHERE event_id = $1", event_id
                    )
                )
                for event_id in sent
            }
        middle = stored[sent[1]]
        flipped = middle[:-10] + ("A" if middle[-10] != "A" else "B") + middle[-9:]
        await _rewrite(config, "UPDATE events SET json = $1 WHERE event_id = $2", flipped, sent[1])
        # The first event's sealed JSON copied over the last one's row.
        await _rewrite(
            config, "UPDATE events SET json = $1 WHERE event_id = $2", stored[sent[0]], sent[2]
        )
        with caplog.at_level(logging.WARNING):
            async with serving(config) as live:
                alice = Raw(http, live.url, alice.user_id, alice.token)
                page = await alice.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50")
                ids = [e["event_id"] for e in page["chunk"]]
                assert sent[0] in ids
                assert sent[1] not in ids
                assert sent[2] not in ids
                status, _ = await alice.send("GET", f"/rooms/{room}/event/{quote(sent[1])}")
                assert status == 404
    skipped = [r.getMessage() for r in caplog.records if "sealed row skipped" in r.getMessage()]
    assert any(sent[1] in m and "failed authentication" in m for m in skipped)
    assert any(sent[2] in m for m in skipped)
    assert all("table=events" in m for m in skipped)


async def _serve_to_exit(data_dir: Path, database_url: str) -> tuple[int, str]:
    """Run `python -m homeserver serve` expecting it to refuse to start."""
    return await run_to_exit(
        serve_command(port=free_port(), data_dir=data_dir, database=database_url)
    )


def _one_line_failure(status: int, stderr: str, expected: str) -> None:
    assert_refused_start(status, stderr, expected, prefix="error: cannot unlock the database: ")


async def test_a_wrong_missing_or_malformed_key_stops_the_start(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    async with serving(search_config(database_url, data_dir)):
        pass
    key_file = data_dir / "database.key"
    key = key_file.read_text()

    key_file.write_text(encode_unpadded(secrets.token_bytes(32)) + "\n")
    status, stderr = await _serve_to_exit(data_dir, database_url)
    _one_line_failure(status, stderr, "is not the key the database is sealed with")
    assert key.strip() not in stderr

    key_file.write_text(encode_unpadded(secrets.token_bytes(20)) + "\n")
    status, stderr = await _serve_to_exit(data_dir, database_url)
    _one_line_failure(status, stderr, "not 32 bytes in Base64")

    key_file.unlink()
    status, stderr = await _serve_to_exit(data_dir, database_url)
    _one_line_failure(status, stderr, "is missing")
    assert not key_file.exists()

    key_file.write_text(key)
    async with serving(search_config(database_url, data_dir)) as live:
        assert live.app[STORES].sealer.seals

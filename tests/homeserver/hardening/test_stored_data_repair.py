"""Rows that break "accepted means readable" (stored before the checks, or written around them)
are skipped and logged on read: the owner's `/sync`, `/messages`, account data and key backup
keep answering 200 after a restart instead of failing on every request. The poisoned values are
sealed at rest like the rows they replace, so the JSON checks run behind the decryption."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from homeserver.app.app_keys import STORES
from homeserver.storage.factory import Stores
from homeserver.storage.sealing import (
    ACCOUNT_DATA,
    BACKUP_AUTH_DATA,
    BACKUP_SESSION_DATA,
    EVENTS_JSON,
    TO_DEVICE,
)
from tests.conftest import LiveServer, make_config, start_server
from tests.homeserver.hardening.helpers import Raw, nested, raw_user

DEEP = nested(960).decode()
SURROGATE = '{"public_key":"\\ud800"}'
ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _timeline_ids(sync: dict[str, object], room_id: str) -> list[str]:
    rooms = sync["rooms"]
    assert isinstance(rooms, dict)
    return [e["event_id"] for e in rooms["join"][room_id]["timeline"]["events"]]


async def _poison_event(stores: Stores, event_id: str) -> None:
    db, sealer = stores.db, stores.sealer
    stored = await db.fetch_val("SELECT json FROM events WHERE event_id = $1", event_id)
    raw = json.loads(sealer.open(EVENTS_JSON, (event_id,), stored) or "")
    raw["content"] = "__deep__"
    poisoned = json.dumps(raw).replace('"__deep__"', DEEP)
    await db.execute(
        "UPDATE events SET json = $1 WHERE event_id = $2",
        sealer.seal(EVENTS_JSON, (event_id,), poisoned),
        event_id,
    )


async def _setup(live: LiveServer, http: aiohttp.ClientSession) -> tuple[Raw, Raw, str, list[str]]:
    alice = await raw_user(http, live.url, "alice")
    bob = await raw_user(http, live.url, "bob")
    room_id = (await alice.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    room = quote(room_id)
    await bob.ok("POST", f"/join/{room}", {})
    sent = [
        (await alice.ok("PUT", f"/rooms/{room}/send/m.room.message/t{i}", {"body": str(i)}))[
            "event_id"
        ]
        for i in range(3)
    ]
    for txn in ("d1", "d2"):
        body = {"messages": {bob.user_id: {"*": {"txn": txn}}}}
        await alice.ok("PUT", f"/sendToDevice/m.test/{txn}", body)
    for data_type in ("x.good", "x.bad"):
        await bob.ok("PUT", f"/user/{quote(bob.user_id)}/account_data/{data_type}", {"v": 1})
    backup = {"algorithm": ALGORITHM, "auth_data": {"public_key": "k", "signatures": {}}}
    version = (await bob.ok("POST", "/room_keys/version", backup))["version"]
    key = {"first_message_index": 0, "forwarded_count": 0, "is_verified": False}
    for session in ("good", "bad"):
        path = f"/room_keys/keys/{room}/{session}?version={version}"
        await bob.ok("PUT", path, {**key, "session_data": {"ciphertext": session}})
    return alice, bob, room_id, sent


async def _poison(stores: Stores, bob: Raw, room_id: str, poisoned_event: str) -> None:
    db, seal = stores.db, stores.sealer.seal
    await _poison_event(stores, poisoned_event)
    first = await db.fetch_one(
        "SELECT device_id, stream_id FROM to_device_inbox WHERE user_id = $1"
        " ORDER BY stream_id LIMIT 1",
        bob.user_id,
    )
    assert first is not None
    device, stream = first["device_id"], first["stream_id"]
    await db.execute(
        "UPDATE to_device_inbox SET message_json = $1 WHERE user_id = $2 AND stream_id = $3",
        seal(
            TO_DEVICE,
            (bob.user_id, device, stream),
            f'{{"type":"m.test","sender":"@x:localhost","content":{DEEP}}}',
        ),
        bob.user_id,
        stream,
    )
    await db.execute(
        "UPDATE account_data SET content = $1 WHERE user_id = $2 AND data_type = $3",
        seal(ACCOUNT_DATA, (bob.user_id, "", "x.bad"), DEEP),
        bob.user_id,
        "x.bad",
    )
    version = await db.fetch_val(
        "SELECT version FROM key_backup_versions WHERE user_id = $1", bob.user_id
    )
    await db.execute(
        "UPDATE key_backup_sessions SET session_data = $1 WHERE user_id = $2 AND session_id = $3",
        seal(BACKUP_SESSION_DATA, (bob.user_id, version, room_id, "bad"), SURROGATE),
        bob.user_id,
        "bad",
    )
    await db.execute(
        "UPDATE key_backup_versions SET auth_data = $1 WHERE user_id = $2",
        seal(BACKUP_AUTH_DATA, (bob.user_id, version), SURROGATE),
        bob.user_id,
    )


async def test_poisoned_rows_are_skipped_after_a_restart(
    database_url: str,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(database_url, tmp_path / "data")
    live, runner = await start_server(config)
    try:
        alice, bob, room_id, sent = await _setup(live, http)
        await _poison(live.app[STORES], bob, room_id, sent[1])
    finally:
        await runner.cleanup()

    live, runner = await start_server(config)
    try:
        for user in (alice, bob):
            user.base = live.url
        for user in (alice, bob):
            sync = await user.ok("GET", "/sync")
            timeline = _timeline_ids(sync, room_id)
            assert sent[1] not in timeline
            assert sent[2] in timeline
        messages = await bob.ok("GET", f"/rooms/{quote(room_id)}/messages?dir=b&limit=50")
        chunk_ids = [e["event_id"] for e in messages["chunk"]]
        assert sent[0] in chunk_ids
        assert sent[2] in chunk_ids
        assert sent[1] not in chunk_ids

        sync = await bob.ok("GET", "/sync")
        assert [e["content"] for e in sync["to_device"]["events"]] == [{"txn": "d2"}]
        types = [e["type"] for e in sync["account_data"]["events"]]
        assert "x.good" in types
        assert "x.bad" not in types
        status, _ = await bob.send("GET", f"/user/{quote(bob.user_id)}/account_data/x.bad")
        assert status == 404

        version = await bob.ok("GET", "/room_keys/version")
        assert version["auth_data"] == {}
        keys = await bob.ok("GET", "/room_keys/keys?version=" + version["version"])
        assert list(keys["rooms"][room_id]["sessions"]) == ["good"]
        # The owner can repair: new writes replace the unreadable rows.
        await bob.ok("PUT", f"/user/{quote(bob.user_id)}/account_data/x.bad", {"v": 2})
        assert await bob.ok("GET", f"/user/{quote(bob.user_id)}/account_data/x.bad") == {"v": 2}
    finally:
        await runner.cleanup()
    skipped = [r for r in caplog.records if "unreadable JSON row skipped" in r.getMessage()]
    assert {
        t
        for r in skipped
        for t in ("events", "to_device_inbox", "account_data")
        if t in r.getMessage()
    } == {
        "events",
        "to_device_inbox",
        "account_data",
    }

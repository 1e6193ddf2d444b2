"""The database master key at start-up and the pass sealing plaintext rows, on both backends."""

from __future__ import annotations

import logging
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.base64 import encode_unpadded
from core.identifiers import RoomId, UserId
from homeserver.storage.at_rest import AtRestSettings, DatabaseKeyError
from homeserver.storage.e2ee.key_backup import RoomKey
from homeserver.storage.factory import Stores, open_stores
from homeserver.storage.media.crypto import load_or_create_key_file
from homeserver.storage.reseal import reseal_plaintext_rows
from homeserver.storage.sealing import SEALED_PREFIX

ALICE = UserId("@alice:localhost")
ROOM = RoomId("!room:localhost")
ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"


def _key() -> str:
    return encode_unpadded(secrets.token_bytes(32))


async def _reopen(url: str, at_rest: AtRestSettings | None) -> Stores:
    return await open_stores(url, at_rest=at_rest)


async def test_the_key_file_is_made_once_and_checked_at_every_start(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "database.key"
    settings = AtRestSettings(enabled=True, key_file=key_file)
    stores = await _reopen(database_url, settings)
    await stores.close()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    stores = await _reopen(database_url, settings)
    await stores.close()
    assert key_file.read_text() == first

    with pytest.raises(DatabaseKeyError, match=r"is not the key the database is sealed with"):
        await _reopen(database_url, AtRestSettings(True, key_file, master_key=_key()))
    with pytest.raises(DatabaseKeyError, match="no database master key was given"):
        await _reopen(database_url, None)
    key_file.rename(tmp_path / "elsewhere.key")
    with pytest.raises(DatabaseKeyError, match=r"is missing.*restore the key file"):
        await _reopen(database_url, settings)
    assert not key_file.exists()  # never replaced by a new key
    # Even with encryption switched off, a sealed database needs its key.
    with pytest.raises(DatabaseKeyError, match="is missing"):
        await _reopen(database_url, AtRestSettings(enabled=False, key_file=key_file))


def test_starts_racing_to_create_the_key_file_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "database.key"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create_key_file(path, create=True), range(16)))
    assert len(set(keys)) == 1
    assert keys[0] is not None
    assert [p.name for p in tmp_path.iterdir()] == ["database.key"]


async def test_unreadable_or_malformed_key_files_stop_the_start(
    database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "a-directory.key"
    directory.mkdir()
    with pytest.raises(DatabaseKeyError, match="cannot read the database master key"):
        await _reopen(database_url, AtRestSettings(True, directory))
    short = tmp_path / "short.key"
    short.write_text(encode_unpadded(secrets.token_bytes(16)))
    with pytest.raises(DatabaseKeyError, match="not 32 bytes in Base64"):
        await _reopen(database_url, AtRestSettings(True, short))
    with pytest.raises(DatabaseKeyError, match="master_key is not 32 bytes"):
        await _reopen(database_url, AtRestSettings(True, short, master_key="c2hvcnQ"))


async def test_a_configured_key_needs_no_file(database_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "database.key"
    settings = AtRestSettings(enabled=True, key_file=key_file, master_key=_key())
    stores = await _reopen(database_url, settings)
    await stores.account_data.put(ALICE, None, "x.secret", {"v": 1})
    await stores.close()
    assert not key_file.exists()
    stores = await _reopen(database_url, settings)
    try:
        assert await stores.account_data.get(ALICE, None, "x.secret") == {"v": 1}
    finally:
        await stores.close()


async def _write_some(stores: Stores) -> None:
    await stores.account_data.put(ALICE, None, "x.secret", {"body": "plain words"})
    await stores.account_data.put(ALICE, ROOM, "x.room", {"n": 1})
    version = await stores.key_backup.create_version(ALICE, ALGORITHM, {"public_key": "k"})
    key = RoomKey(ROOM, "session", 0, 0, False, {"ciphertext": "c"})
    await stores.key_backup.put_keys(ALICE, version, [key])


async def _stored(stores: Stores) -> list[str]:
    rows = await stores.db.fetch_all(
        "SELECT content AS v FROM account_data UNION ALL SELECT auth_data FROM key_backup_versions"
        " UNION ALL SELECT session_data FROM key_backup_sessions"
    )
    return [str(r["v"]) for r in rows]


async def test_plaintext_rows_are_sealed_by_the_start_up_pass(
    database_url: str, tmp_path: Path
) -> None:
    plain = await _reopen(database_url, None)
    await _write_some(plain)
    assert not any(v.startswith(SEALED_PREFIX) for v in await _stored(plain))
    await plain.close()

    settings = AtRestSettings(enabled=True, key_file=tmp_path / "database.key")
    stores = await _reopen(database_url, settings)
    try:
        # Before the pass the plaintext rows read as they are.
        assert await stores.account_data.get(ALICE, None, "x.secret") == {"body": "plain words"}
        assert await reseal_plaintext_rows(stores.db, stores.sealer, batch=1) == 4
        stored = await _stored(stores)
        assert len(stored) == 4
        assert all(v.startswith(SEALED_PREFIX) for v in stored)
        assert not any("plain words" in v for v in stored)
        assert await stores.account_data.get(ALICE, None, "x.secret") == {"body": "plain words"}
        assert len(await stores.account_data.get_all(ALICE)) == 2
        backup = await stores.key_backup.get_version(ALICE, None)
        assert backup is not None
        assert backup.auth_data == {"public_key": "k"}
        keys = await stores.key_backup.get_keys(ALICE, backup.version)
        assert [k.session_data for k in keys] == [{"ciphertext": "c"}]
        # Done once: later starts skip the pass.
        assert await reseal_plaintext_rows(stores.db, stores.sealer) == 0
    finally:
        await stores.close()


async def test_switching_encryption_off_writes_plaintext_and_on_again_seals_it(
    database_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "database.key"
    stores = await _reopen(database_url, AtRestSettings(True, key_file))
    await stores.account_data.put(ALICE, None, "x.sealed", {"v": 1})
    await reseal_plaintext_rows(stores.db, stores.sealer)
    await stores.close()
    stores = await _reopen(database_url, AtRestSettings(False, key_file))
    await stores.account_data.put(ALICE, None, "x.plain", {"v": 2})
    assert await stores.account_data.get(ALICE, None, "x.sealed") == {"v": 1}
    await stores.close()
    stores = await _reopen(database_url, AtRestSettings(True, key_file))
    try:
        assert await reseal_plaintext_rows(stores.db, stores.sealer) == 1
        assert all(v.startswith(SEALED_PREFIX) for v in await _stored(stores))
        assert await stores.account_data.get(ALICE, None, "x.plain") == {"v": 2}
    finally:
        await stores.close()


async def test_an_altered_or_moved_row_is_not_served(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    await _write_some(stores)
    db = stores.db
    sealed = await db.fetch_val("SELECT content FROM account_data WHERE data_type = $1", "x.secret")
    other = await db.fetch_val("SELECT content FROM account_data WHERE data_type = $1", "x.room")
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    await db.execute(
        "UPDATE account_data SET content = $1 WHERE data_type = $2", flipped, "x.secret"
    )
    await db.execute("UPDATE account_data SET content = $1 WHERE data_type = $2", sealed, "x.room")
    with caplog.at_level(logging.WARNING):
        assert await stores.account_data.get(ALICE, None, "x.secret") is None
        assert await stores.account_data.get(ALICE, ROOM, "x.room") is None
        assert await stores.account_data.get_all(ALICE) == []
    skipped = [r.getMessage() for r in caplog.records if "sealed row skipped" in r.getMessage()]
    assert len(skipped) == 4
    assert all("table=account_data" in m for m in skipped)
    assert not any("plain words" in m for m in skipped)
    assert other.startswith(SEALED_PREFIX)

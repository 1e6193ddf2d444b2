"""The sealing primitive: AES-256-GCM values bound to their row, without I/O."""

from __future__ import annotations

import binascii
import logging
import secrets

import pytest

from core.base64 import encode_unpadded
from homeserver.storage.sealing import (
    ACCOUNT_DATA,
    EVENTS_JSON,
    OUTLIERS_JSON,
    SEALED_COLUMNS,
    SEALED_PREFIX,
    DatabaseKey,
    Sealer,
    parse_database_key,
)

TEXT = '{"type":"m.room.message","content":{"body":"meet at dawn"}}'


def _sealer() -> Sealer:
    return Sealer(DatabaseKey.from_secret(secrets.token_bytes(32)))


def test_a_sealed_value_opens_in_its_row_only() -> None:
    sealer = _sealer()
    stored = sealer.seal(EVENTS_JSON, ("$a",), TEXT)
    assert stored.startswith(SEALED_PREFIX)
    assert "dawn" not in stored
    assert sealer.open(EVENTS_JSON, ("$a",), stored) == TEXT
    loaded = sealer.load(EVENTS_JSON, ("$a",), stored)
    assert isinstance(loaded, dict)
    assert loaded["content"] == {"body": "meet at dawn"}
    # The same event as an outlier shares the scope: moving it between the tables is no forgery.
    assert sealer.open(OUTLIERS_JSON, ("$a",), stored) == TEXT
    assert sealer.problem(EVENTS_JSON, ("$b",), stored) is not None
    assert sealer.problem(ACCOUNT_DATA, ("$a", "", "x"), stored) is not None


def test_each_seal_is_fresh() -> None:
    sealer = _sealer()
    assert sealer.seal(EVENTS_JSON, ("$a",), TEXT) != sealer.seal(EVENTS_JSON, ("$a",), TEXT)


def test_a_moved_or_altered_value_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    sealer = _sealer()
    stored = sealer.seal(EVENTS_JSON, ("$a",), TEXT)
    blob = bytearray(binascii.a2b_base64(stored[len(SEALED_PREFIX) :]))
    blob[-20] ^= 1
    altered = SEALED_PREFIX + binascii.b2a_base64(bytes(blob), newline=False).decode()
    with caplog.at_level(logging.WARNING):
        assert sealer.open(EVENTS_JSON, ("$a",), altered) is None
        assert sealer.open(EVENTS_JSON, ("$b",), stored) is None
        assert sealer.open(EVENTS_JSON, ("$a",), stored[:-8]) is None
        assert sealer.open(EVENTS_JSON, ("$a",), SEALED_PREFIX + "!!") is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4
    assert all("table=events" in m and "sealed row skipped" in m for m in messages)
    assert sum("failed authentication" in m for m in messages) >= 2
    assert not any("dawn" in m for m in messages)


def test_another_key_is_named_as_such(caplog: pytest.LogCaptureFixture) -> None:
    stored = _sealer().seal(EVENTS_JSON, ("$a",), TEXT)
    other = _sealer()
    assert "another master key" in (other.problem(EVENTS_JSON, ("$a",), stored) or "")
    with caplog.at_level(logging.WARNING):
        assert list(other.readable([{"event_id": "$a", "json": stored}], EVENTS_JSON)) == []
    assert "another master key" in caplog.text
    assert Sealer.plaintext().open(EVENTS_JSON, ("$a",), stored) is None


def test_plaintext_rows_read_as_they_are() -> None:
    sealer = _sealer()
    assert sealer.open(EVENTS_JSON, ("$a",), TEXT) == TEXT
    assert sealer.open(EVENTS_JSON, ("$a",), None) is None
    rows = [{"event_id": "$a", "json": TEXT}, {"event_id": "$b", "json": "{not json"}]
    assert [row["event_id"] for row, _ in sealer.readable(rows, EVENTS_JSON)] == ["$a"]


def test_with_encryption_off_values_are_written_plain_and_sealed_ones_still_open() -> None:
    key = DatabaseKey.from_secret(secrets.token_bytes(32))
    stored = Sealer(key).seal(EVENTS_JSON, ("$a",), TEXT)
    off = Sealer(key, seal=False)
    assert not off.seals
    assert off.seal(EVENTS_JSON, ("$a",), TEXT) == TEXT
    assert off.open(EVENTS_JSON, ("$a",), stored) == TEXT
    assert not Sealer.plaintext().seals


def test_keys_are_32_bytes_and_hidden() -> None:
    secret = secrets.token_bytes(32)
    key = parse_database_key(encode_unpadded(secret) + "\n")
    assert key == DatabaseKey.from_secret(secret)
    assert len(key.key_id_hex) == 8
    assert encode_unpadded(secret) not in repr(key)
    with pytest.raises(ValueError, match="32 bytes"):
        DatabaseKey.from_secret(secrets.token_bytes(16))
    with pytest.raises(ValueError):
        parse_database_key("not base64!")


def test_every_sealed_column_is_keyed() -> None:
    assert len({(c.table, c.column) for c in SEALED_COLUMNS}) == len(SEALED_COLUMNS)
    assert all(c.key for c in SEALED_COLUMNS)
    with pytest.raises(ValueError, match="keyed by"):
        EVENTS_JSON.associated_data(("$a", "extra"))


def test_values_evicted_from_the_cache_still_open() -> None:
    key = DatabaseKey.from_secret(secrets.token_bytes(32))
    sealer = Sealer(key, cache_bytes=len(TEXT) * 2)
    stored = [sealer.seal(EVENTS_JSON, (f"$e{i}",), TEXT) for i in range(10)]
    assert [sealer.open(EVENTS_JSON, (f"$e{i}",), s) for i, s in enumerate(stored)] == [TEXT] * 10
    assert Sealer(key, cache_bytes=0).open(EVENTS_JSON, ("$e0",), stored[0]) == TEXT
    # A cached plaintext is bound to its row like any other.
    assert sealer.problem(EVENTS_JSON, ("$e1",), stored[0]) is not None

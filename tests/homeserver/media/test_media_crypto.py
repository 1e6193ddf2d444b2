"""The chunked AES-256-GCM format of media at rest, without a server."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.storage.media.crypto import (
    CHUNK_SIZE,
    HEADER_SIZE,
    ChunkEncryptor,
    MasterKey,
    MediaCryptoError,
    PlainRangeReader,
    load_or_create_master_key,
    parse_master_key,
)
from homeserver.storage.media.crypto import sealed_size as sealed_size_of

MASTER = MasterKey.from_secret(bytes(range(32)))
SEALED = CHUNK_SIZE + 16


def seal(data: bytes, master: MasterKey = MASTER, pieces: int = 7) -> bytes:
    encryptor = ChunkEncryptor(master)
    out = bytearray(encryptor.header)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        out += b"".join(encryptor.update(data[start : start + step]))
    out += encryptor.finalize()
    return bytes(out)


def read(sealed: bytes, size: int, start: int, end: int, master: MasterKey = MASTER) -> bytes:
    reader = PlainRangeReader(io.BytesIO(sealed), master, size, start, end)
    out = bytearray()
    while piece := reader.read_next():
        out += piece
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_round_trip_and_size(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    assert len(sealed) == sealed_size_of(size)
    assert read(sealed, size, 0, size) == data
    assert data[:64] not in sealed[HEADER_SIZE:] or size == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * CHUNK_SIZE + 100), st.data())
def test_any_range_decrypts(size: int, data: st.DataObject) -> None:
    plain = bytes(i % 251 for i in range(size))
    sealed = seal(plain)
    start = data.draw(st.integers(0, size))
    end = data.draw(st.integers(start, size))
    assert read(sealed, size, start, end) == plain[start:end]


def test_same_plaintext_seals_differently() -> None:
    data = b"same" * 100
    assert seal(data) != seal(data)


def test_flipped_bit_is_detected() -> None:
    size = 2 * CHUNK_SIZE + 10
    data = os.urandom(size)
    sealed = bytearray(seal(data))
    sealed[HEADER_SIZE + SEALED + 5] ^= 0x80  # in chunk 1
    assert read(bytes(sealed), size, 0, 100) == data[:100]  # chunk 0 is intact
    with pytest.raises(MediaCryptoError, match="chunk 1"):
        read(bytes(sealed), size, 0, size)


def test_truncation_is_detected() -> None:
    size = 3 * CHUNK_SIZE
    sealed = seal(os.urandom(size))
    cut = sealed[: HEADER_SIZE + 2 * SEALED]  # drop the final chunk
    # Claiming the shorter size makes chunk 1 the "final" one, which it was not sealed as.
    with pytest.raises(MediaCryptoError):
        read(cut, 2 * CHUNK_SIZE, 0, 2 * CHUNK_SIZE)
    with pytest.raises(MediaCryptoError):
        read(cut, size, 0, size)


def test_reordered_chunks_are_detected() -> None:
    size = 3 * CHUNK_SIZE + 1
    sealed = seal(os.urandom(size))
    body = sealed[HEADER_SIZE:]
    chunks = [body[i : i + SEALED] for i in range(0, len(body), SEALED)]
    swapped = sealed[:HEADER_SIZE] + chunks[1] + chunks[0] + b"".join(chunks[2:])
    with pytest.raises(MediaCryptoError):
        read(swapped, size, 0, size)


def test_wrong_master_key_is_named() -> None:
    sealed = seal(b"hello")
    other = MasterKey.from_secret(os.urandom(32))
    with pytest.raises(MediaCryptoError, match="different media master key"):
        read(sealed, 5, 0, 5, master=other)


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "media.key"
    assert load_or_create_master_key(path, create=False) is None
    key = load_or_create_master_key(path, create=True)
    assert key is not None
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_master_key(path, create=True)
    assert again == key
    assert key.secret.hex() not in repr(key)


def test_parse_master_key() -> None:
    assert parse_master_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") == MASTER
    assert parse_master_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8") == MASTER
    with pytest.raises(ValueError, match="32 bytes"):
        parse_master_key("AAECAw")

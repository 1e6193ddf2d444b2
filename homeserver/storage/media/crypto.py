"""Media encryption at rest: AES-256-GCM in 64 KiB chunks under a random per-file key.

An encrypted blob on disk is a header followed by sealed chunks:

    header  = MAGIC (8) | key_id (4) | wrap_nonce (12) | wrapped file key (32 + 16) | salt (4)
    chunk i = AES-GCM(file_key, nonce = salt | i as 8 bytes, aad = MAGIC | i as 8 bytes | final)

Chunk i seals plaintext bytes [i * 64 KiB, (i + 1) * 64 KiB); the last chunk is shorter (empty
for an empty file) and is the only one sealed with `final = 1`. Invariants: the nonce never
repeats under one key (the key is fresh per file and the index grows), chunks cannot be
reordered (the index is in nonce and AAD), and truncating or extending a file fails
authentication (a non-final chunk never verifies as the final one). Any plaintext range is
readable by decrypting only the chunks it touches, so HTTP range requests stay cheap.

The file key is wrapped with the server's media master key (AES-256-GCM, random nonce);
`key_id` names the master key so a wrong key is reported as such, not as corruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.base64 import decode_unpadded, encode_unpadded

__all__ = [
    "CHUNK_SIZE",
    "HEADER_SIZE",
    "ChunkEncryptor",
    "FileKey",
    "MasterKey",
    "MediaCryptoError",
    "PlainRangeReader",
    "load_or_create_key_file",
    "load_or_create_master_key",
    "media_master_key",
    "parse_master_key",
]

MAGIC: Final = b"TSMEDIA\x01"
CHUNK_SIZE: Final = 64 * 1024
TAG_SIZE: Final = 16
_KEY_SIZE: Final = 32
_HEADER = struct.Struct(">8s4s12s48s4s")
HEADER_SIZE: Final = _HEADER.size
_SEALED_CHUNK: Final = CHUNK_SIZE + TAG_SIZE


class MediaCryptoError(Exception):
    """An encrypted blob that cannot be read: wrong master key, corruption or tampering."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The media master key and what is derived from it (all hidden from `repr`).

    Attributes:
        secret: The 32-byte AES-256 key wrapping every file key.
        key_id: Four bytes naming this key in each blob header.
        address_key: HMAC key for content addresses of encrypted blobs, so a file's name on
            disk does not reveal the plaintext's SHA-256.
    """

    secret: bytes = field(repr=False)
    key_id: bytes = field(repr=False)
    address_key: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: bytes) -> MasterKey:
        """The key record for 32 secret bytes."""
        if len(secret) != _KEY_SIZE:
            raise ValueError("the media master key must be 32 bytes")
        return cls(
            secret=secret,
            key_id=hashlib.sha256(b"tessera media key id\x00" + secret).digest()[:4],
            address_key=hmac.digest(secret, b"tessera media address", "sha256"),
        )


def parse_master_key(text: str) -> MasterKey:
    """A master key from its Base64 text (padded or not).

    Raises:
        ValueError: The text is not Base64 of exactly 32 bytes.
    """
    return MasterKey.from_secret(decode_unpadded(text.strip()))


def load_or_create_master_key(path: Path, *, create: bool) -> MasterKey | None:
    """The master key in `path`; a new one is written (mode 0600) if missing and `create`.

    Returns:
        The key, or None when the file is missing and `create` is false.
    """
    secret = load_or_create_key_file(path, create=create)
    return MasterKey.from_secret(secret) if secret is not None else None


def load_or_create_key_file(path: Path, *, create: bool) -> bytes | None:
    """The 32 secret bytes in the Base64 key file `path`; if it is missing and `create`, new
    random bytes written there first: mode 0600, to a temporary file of its own that is then
    linked into place, so a crash never leaves a truncated key and two processes starting at
    once end up with the same key (the second finds the first's file and reads it).

    Returns:
        The secret, or None when the file is missing and `create` is false.

    Raises:
        OSError: The file cannot be read or written.
        ValueError: It does not hold Base64 of 32 bytes.
    """
    if not path.exists():
        if not create:
            return None
        _create_key_file(path)
    secret = decode_unpadded(path.read_text(encoding="ascii").strip())
    if len(secret) != _KEY_SIZE:
        raise ValueError(f"expected {_KEY_SIZE} bytes, found {len(secret)}")
    return secret


def _create_key_file(path: Path) -> None:
    """Write a new key to `path` unless a file appeared there meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(encode_unpadded(secrets.token_bytes(_KEY_SIZE)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()


def media_master_key(configured: str | None, path: Path, *, create: bool) -> MasterKey | None:
    """The configured key (Base64), else the key file's (created if missing and `create`)."""
    if configured is not None:
        return parse_master_key(configured)
    return load_or_create_master_key(path, create=create)


@dataclass(frozen=True, slots=True)
class FileKey:
    """One file's key and nonce salt, unwrapped from its header."""

    key: bytes = field(repr=False)
    salt: bytes

    @classmethod
    def from_header(cls, header: bytes, master: MasterKey) -> FileKey:
        """Unwrap the file key in `header`.

        Raises:
            MediaCryptoError: Not our header, another master key, or a forged wrap.
        """
        if len(header) != HEADER_SIZE:
            raise MediaCryptoError("encrypted media file is truncated")
        magic, key_id, nonce, wrapped, salt = _HEADER.unpack(header)
        if magic != MAGIC:
            raise MediaCryptoError("not an encrypted media file")
        if not hmac.compare_digest(key_id, master.key_id):
            raise MediaCryptoError("encrypted with a different media master key")
        try:
            key = AESGCM(master.secret).decrypt(nonce, wrapped, MAGIC + key_id)
        except InvalidTag:
            raise MediaCryptoError("media file key failed authentication") from None
        return cls(key=key, salt=salt)


def _nonce(salt: bytes, index: int) -> bytes:
    return salt + index.to_bytes(8, "big")


def _aad(index: int, final: bool) -> bytes:
    return MAGIC + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def chunk_count(plain_size: int) -> int:
    """How many sealed chunks hold `plain_size` bytes (at least one, for the final chunk)."""
    return max(1, -(-plain_size // CHUNK_SIZE))


def sealed_size(plain_size: int) -> int:
    """The size on disk of an encrypted blob of `plain_size` bytes."""
    return HEADER_SIZE + plain_size + chunk_count(plain_size) * TAG_SIZE


class ChunkEncryptor:
    """Seals a stream chunk by chunk; feed `update`, then `finalize` exactly once."""

    def __init__(self, master: MasterKey) -> None:
        self._file_key = secrets.token_bytes(_KEY_SIZE)
        self._salt = secrets.token_bytes(4)
        self._aead = AESGCM(self._file_key)
        self._index = 0
        self._pending = bytearray()
        wrap_nonce = secrets.token_bytes(12)
        wrapped = AESGCM(master.secret).encrypt(wrap_nonce, self._file_key, MAGIC + master.key_id)
        self.header = _HEADER.pack(MAGIC, master.key_id, wrap_nonce, wrapped, self._salt)

    def update(self, data: bytes | bytearray) -> list[bytes]:
        """Sealed chunks for `data`, holding back the last full chunk: it may be the final one.

        Works on views of `data`: each plaintext byte is copied at most once (into a held-back
        partial chunk), however large the pieces fed in.
        """
        view = memoryview(data)
        out: list[bytes] = []
        position = 0
        if self._pending:
            need = CHUNK_SIZE - len(self._pending)
            if len(view) <= need:
                self._pending += view
                return out
            self._pending += view[:need]
            out.append(self._seal(self._pending, final=False))
            self._pending = bytearray()
            position = need
        while len(view) - position > CHUNK_SIZE:
            out.append(self._seal(view[position : position + CHUNK_SIZE], final=False))
            position += CHUNK_SIZE
        self._pending = bytearray(view[position:])
        return out

    def finalize(self) -> bytes:
        """The final chunk (possibly sealing zero bytes)."""
        sealed = self._seal(self._pending, final=True)
        self._pending = bytearray()
        return sealed

    def _seal(self, plain: bytes | bytearray | memoryview, *, final: bool) -> bytes:
        sealed = self._aead.encrypt(
            _nonce(self._salt, self._index), plain, _aad(self._index, final)
        )
        self._index += 1
        return sealed


class PlainRangeReader:
    """Reads plaintext bytes [start, end) of an encrypted blob, one chunk at a time (blocking)."""

    def __init__(
        self, handle: BinaryIO, master: MasterKey, plain_size: int, start: int, end: int
    ) -> None:
        self._handle = handle
        self._file_key = FileKey.from_header(handle.read(HEADER_SIZE), master)
        self._aead = AESGCM(self._file_key.key)
        self._last = chunk_count(plain_size) - 1
        self._start = start
        self._end = end
        self._index = start // CHUNK_SIZE
        handle.seek(HEADER_SIZE + self._index * _SEALED_CHUNK)

    def read_next(self) -> bytes:
        """The next piece of the range (empty when done).

        Raises:
            MediaCryptoError: A chunk failed authentication (tampering or truncation).
        """
        if self._start >= self._end:
            return b""
        index = self._index
        sealed = self._handle.read(_SEALED_CHUNK)
        try:
            plain = self._aead.decrypt(
                _nonce(self._file_key.salt, index), sealed, _aad(index, index == self._last)
            )
        except InvalidTag:
            raise MediaCryptoError(f"media chunk {index} failed authentication") from None
        chunk_start = index * CHUNK_SIZE
        piece = plain[self._start - chunk_start : self._end - chunk_start]
        if not piece:
            raise MediaCryptoError("encrypted media file is shorter than recorded")
        self._index += 1
        self._start += len(piece)
        return piece

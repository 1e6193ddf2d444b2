"""Media bytes on the local filesystem: content-addressed, sharded, written atomically.

A blob's ID is its content address: `p` + SHA-256 of the plaintext for plain blobs, `e` +
HMAC-SHA-256 (keyed from the media master key) for encrypted ones, so identical uploads share one
file and a name on disk never reveals what an encrypted file holds. Blob `pabcdef…` lives at
`ROOT/ab/cd/pabcdef…`.

Invariants: a blob file is complete or absent. Uploads stream into `ROOT/tmp/` (same filesystem),
are fsynced, then published with `os.link`, which never overwrites: when two writers race for one
address the first file wins, and because every encrypted file carries its own wrapped key in its
header, the winner is always self-consistent. Which blobs are encrypted is recorded in the
database (`media_blobs.encrypted`), never guessed from the bytes.

All file I/O here is blocking and runs in worker threads (`asyncio.to_thread`), never on the
event loop. `BlobStore` is the interface a second backend (an S3-compatible store) would
implement.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from homeserver.storage.media.crypto import ChunkEncryptor, MasterKey, PlainRangeReader

__all__ = [
    "BlobMissingError",
    "BlobReader",
    "BlobRef",
    "BlobStore",
    "BlobUpload",
    "FilesystemBlobStore",
    "StoredBlob",
]

_BLOB_ID = re.compile(r"^[pe][0-9a-f]{64}$")
_READ_PIECE = 256 * 1024


class BlobMissingError(Exception):
    """The database names a blob whose file is gone."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What is needed to read a blob: its ID, plaintext size and whether it is encrypted."""

    blob_id: str
    size: int
    encrypted: bool


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob written by an upload: its ref and the plaintext's SHA-256 (hex)."""

    ref: BlobRef
    sha256: str


class BlobReader(Protocol):
    """Plaintext pieces of one byte range; `aclose` releases the file early."""

    def __aiter__(self) -> BlobReader: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class BlobUpload(Protocol):
    """An upload in progress: `write` pieces, then `publish` or `discard`."""

    @property
    def size(self) -> int:
        """Plaintext bytes written so far."""
        ...

    async def write(self, data: bytes | bytearray) -> None:
        """Hash, encrypt (if on) and append `data` (which must not change meanwhile)."""
        ...

    async def finish(self) -> StoredBlob:
        """Seal and fsync the temporary file; returns what it will be published as."""
        ...

    async def publish(self) -> None:
        """Make the finished blob visible at its address (a no-op if it already is)."""
        ...

    async def discard(self) -> None:
        """Remove the temporary file (safe to call more than once)."""
        ...


class BlobStore(Protocol):
    """Where media bytes live."""

    def begin_upload(self) -> BlobUpload:
        """Start writing a new blob."""
        ...

    async def open(self, ref: BlobRef, start: int, end: int) -> BlobReader:
        """Plaintext bytes [start, end) of a blob.

        Raises:
            BlobMissingError: The file is gone.
            MediaCryptoError: It cannot be decrypted.
        """
        ...

    async def exists(self, blob_id: str) -> bool:
        """Whether the blob's file is present."""
        ...

    async def delete(self, blob_id: str) -> None:
        """Remove a blob's file (missing files are fine)."""
        ...


class FilesystemBlobStore:
    """Blobs as files under one root directory.

    Args:
        root: The media store directory (created if missing).
        master_key: The media master key, needed to read encrypted blobs and to write them.
        encrypt: Encrypt new blobs (requires `master_key`).
    """

    def __init__(self, root: Path, master_key: MasterKey | None, *, encrypt: bool) -> None:
        if encrypt and master_key is None:
            raise ValueError("encryption at rest needs a media master key")
        self._root = root
        self._master = master_key
        self._encrypt = encrypt

    def path_of(self, blob_id: str) -> Path:
        """Where a blob's file lives (IDs are validated: no path can escape the root)."""
        if not _BLOB_ID.match(blob_id):
            raise ValueError("invalid blob ID")
        return self._root / blob_id[1:3] / blob_id[3:5] / blob_id

    def begin_upload(self) -> BlobUpload:
        """Start writing a new blob into the temporary directory."""
        master = self._master if self._encrypt else None
        return _FileUpload(self, self._root / "tmp", master)

    async def open(self, ref: BlobRef, start: int, end: int) -> BlobReader:
        """Plaintext bytes [start, end) of a blob, decrypted if it is encrypted."""
        reader = await asyncio.to_thread(self._open_sync, ref, start, end)
        return _ThreadedReader(reader)

    def _open_sync(self, ref: BlobRef, start: int, end: int) -> _SyncReader:
        try:
            handle = self.path_of(ref.blob_id).open("rb")
        except FileNotFoundError:
            raise BlobMissingError(ref.blob_id) from None
        try:
            if not ref.encrypted:
                return _PlainReader(handle, start, end)
            if self._master is None:
                raise BlobMissingError(f"{ref.blob_id} is encrypted but no master key is loaded")
            return _DecryptingReader(
                handle, PlainRangeReader(handle, self._master, ref.size, start, end)
            )
        except BaseException:
            handle.close()
            raise

    async def exists(self, blob_id: str) -> bool:
        """Whether the blob's file is present."""
        return await asyncio.to_thread(self.path_of(blob_id).is_file)

    async def delete(self, blob_id: str) -> None:
        """Remove a blob's file."""
        await asyncio.to_thread(self.path_of(blob_id).unlink, missing_ok=True)


class _SyncReader(Protocol):
    def read_next(self) -> bytes: ...

    def close(self) -> None: ...


class _PlainReader:
    def __init__(self, handle: BinaryIO, start: int, end: int) -> None:
        self._handle = handle
        self._left = end - start
        handle.seek(start)

    def read_next(self) -> bytes:
        if self._left <= 0:
            return b""
        piece = self._handle.read(min(_READ_PIECE, self._left))
        if not piece:
            raise BlobMissingError("media file is shorter than recorded")
        self._left -= len(piece)
        return piece

    def close(self) -> None:
        self._handle.close()


class _DecryptingReader:
    def __init__(self, handle: BinaryIO, reader: PlainRangeReader) -> None:
        self._handle = handle
        self._reader = reader

    def read_next(self) -> bytes:
        # Several chunks per thread hop: decryption is fast, the hop is not free.
        out = bytearray()
        while len(out) < _READ_PIECE:
            piece = self._reader.read_next()
            if not piece:
                break
            out += piece
        return bytes(out)

    def close(self) -> None:
        self._handle.close()


class _ThreadedReader:
    """Async iteration over a blocking reader, one thread hop per piece."""

    def __init__(self, reader: _SyncReader) -> None:
        self._reader: _SyncReader | None = reader

    def __aiter__(self) -> _ThreadedReader:
        return self

    async def __anext__(self) -> bytes:
        if self._reader is None:
            raise StopAsyncIteration
        try:
            piece = await asyncio.to_thread(self._reader.read_next)
        except BaseException:
            await self.aclose()
            raise
        if not piece:
            await self.aclose()
            raise StopAsyncIteration
        return piece

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await asyncio.to_thread(reader.close)


class _FileUpload:
    """A temporary file being filled; the hashing and sealing run in worker threads."""

    def __init__(self, store: FilesystemBlobStore, tmp_dir: Path, master: MasterKey | None) -> None:
        self._store = store
        self._tmp_dir = tmp_dir
        self._master = master
        self._handle: BinaryIO | None = None
        self._path: Path | None = None
        self._sha = hashlib.sha256()
        self._mac = hmac.new(master.address_key, digestmod="sha256") if master else None
        self._encryptor = ChunkEncryptor(master) if master else None
        self._size = 0
        self._blob: StoredBlob | None = None

    @property
    def size(self) -> int:
        return self._size

    async def write(self, data: bytes | bytearray) -> None:
        await asyncio.to_thread(self._write_sync, data)

    def _write_sync(self, data: bytes | bytearray) -> None:
        handle = self._handle or self._open_sync()
        self._sha.update(data)
        if self._mac is not None:
            self._mac.update(data)
        if self._encryptor is not None:
            handle.writelines(self._encryptor.update(data))
        else:
            handle.write(data)
        self._size += len(data)

    def _open_sync(self) -> BinaryIO:
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp_dir, prefix="upload-")
        self._path = Path(name)
        self._handle = os.fdopen(fd, "wb")
        if self._encryptor is not None:
            self._handle.write(self._encryptor.header)
        return self._handle

    async def finish(self) -> StoredBlob:
        if self._blob is None:
            self._blob = await asyncio.to_thread(self._finish_sync)
        return self._blob

    def _finish_sync(self) -> StoredBlob:
        handle = self._handle or self._open_sync()
        if self._encryptor is not None:
            handle.write(self._encryptor.finalize())
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        sha = self._sha.hexdigest()
        blob_id = f"e{self._mac.hexdigest()}" if self._mac is not None else f"p{sha}"
        return StoredBlob(BlobRef(blob_id, self._size, self._encryptor is not None), sha)

    async def publish(self) -> None:
        blob = await self.finish()
        await asyncio.to_thread(self._publish_sync, blob.ref.blob_id)

    def _publish_sync(self, blob_id: str) -> None:
        if self._path is None:
            raise RuntimeError("upload already discarded")
        final = self._store.path_of(blob_id)
        if final.is_file():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self._path, final)  # never overwrites a blob another writer published
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not final.exists():
                os.replace(self._path, final)
                self._path = None

    async def discard(self) -> None:
        await asyncio.to_thread(self._discard_sync)

    def _discard_sync(self) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

"""Streaming media bodies: files read and written in chunks, with progress and transforms.

`FileSource` is an upload body read from disk chunk by chunk; `FileSink` writes a download to
disk as it arrives. Either may run each chunk through a `ChunkTransform` (the crypto layer's
attachment encryptor or decryptor: AES-CTR is a stream cipher and SHA-256 is incremental), so a
file of any size crosses the client without being held in memory.

Invariants: every pass over a body starts from the first byte (`chunks()` and `FileSink.start()`
restart the transform too), so a retried request sends or keeps exactly what a first try would;
a download is written to `<name>.part` beside its target and renamed into place only after the
transform's final check (the attachment hash) passed, so the target path never holds a partial
or tampered file; disk reads and writes run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, Final, Protocol

__all__ = ["DEFAULT_CHUNK_BYTES", "ChunkTransform", "FileSink", "FileSource", "Progress"]

DEFAULT_CHUNK_BYTES: Final = 256 * 1024

Progress = Callable[[int, int | None], None]
"""`progress(done, total)`: bytes transferred so far and the total when known. Called on the
event loop after each chunk (and once with `done=0` when a pass starts); keep it quick."""


class ChunkTransform(Protocol):
    """A byte-stream transform applied chunk by chunk (attachment encryption or decryption)."""

    def restart(self) -> None:
        """Begin a new pass from the first byte (a retried request)."""
        ...

    def update(self, chunk: bytes) -> bytes:
        """The transformed bytes of the next chunk."""
        ...

    def finish(self) -> None:
        """End a complete pass; raise if the stream fails its check (a hash mismatch)."""
        ...


class FileSource:
    """An upload body read from a file in chunks.

    Attributes:
        path: The file.
        size: Its size in bytes when the source was made (the transforms used keep the size).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        transform: ChunkTransform | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        """Open nothing yet; stat the file.

        Raises:
            OSError: The file cannot be read.
        """
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self._progress = progress
        self._transform = transform
        self._chunk_bytes = chunk_bytes

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r}, size={self.size})"

    async def chunks(self) -> AsyncIterator[bytes]:
        """One pass over the (transformed) file, first byte to last."""
        if self._transform is not None:
            self._transform.restart()
        done = 0
        self._report(done)
        handle = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, self._chunk_bytes):
                done += len(chunk)
                yield chunk if self._transform is None else self._transform.update(chunk)
                self._report(done)
        finally:
            await asyncio.to_thread(handle.close)
        if self._transform is not None:
            self._transform.finish()

    def _report(self, done: int) -> None:
        if self._progress is not None:
            self._progress(done, self.size)


class FileSink:
    """A download written to a file as it arrives, renamed into place once complete.

    Attributes:
        path: The target file.
        written: Bytes received in the current pass.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        transform: ChunkTransform | None = None,
    ) -> None:
        self.path = Path(path)
        self.written = 0
        self._partial = self.path.with_name(self.path.name + ".part")
        self._progress = progress
        self._transform = transform
        self._total: int | None = None
        self._handle: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"FileSink({str(self.path)!r})"

    async def start(self, total: int | None) -> None:
        """Begin (or begin again) writing from the first byte; `total` is the expected size."""
        await self._close()
        self._handle = await asyncio.to_thread(self._partial.open, "wb")
        self.written, self._total = 0, total
        if self._transform is not None:
            self._transform.restart()
        self._report()

    async def write(self, chunk: bytes) -> None:
        """Append the next chunk of the response body."""
        if self._handle is None:
            raise RuntimeError("FileSink.write before start")
        data = chunk if self._transform is None else self._transform.update(chunk)
        await asyncio.to_thread(self._handle.write, data)
        self.written += len(chunk)
        self._report()

    async def commit(self) -> None:
        """Finish: run the transform's final check, then move the file into place.

        Raises:
            Exception: Whatever the transform's check raises; the partial file is removed.
        """
        await self._close()
        try:
            if self._transform is not None:
                self._transform.finish()
            await asyncio.to_thread(os.replace, self._partial, self.path)
        except BaseException:
            await self.abort()
            raise

    async def abort(self) -> None:
        """Give up: close and remove the partial file."""
        await self._close()
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._partial.unlink)

    async def _close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            await asyncio.to_thread(handle.close)

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self.written, self._total)

"""Receiving, publishing and releasing media blobs: the one path bytes take into the store.

Invariants: a blob file is published before the row that references it commits, and removed
only after `MediaStore.release_blobs` confirmed nothing references it. Publishing and releasing
are serialised by one lock per process, so a concurrent identical upload cannot lose its file
to a release (deployments with several workers should run media cleanup on one of them).
Uploads arrive as a stream and are written as they arrive, in pieces of about `_FLUSH_BYTES`
with at most two in memory: memory per upload is bounded whatever the file size.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence

from core.errors import M_TOO_LARGE, MatrixError
from homeserver.clock import Clock
from homeserver.storage.media.files import BlobReader, BlobRef, BlobStore, BlobUpload, StoredBlob
from homeserver.storage.media.metadata import MediaStore

logger = logging.getLogger(__name__)

_FLUSH_BYTES = 1024 * 1024


class MediaBlobs:
    """The blob store and the metadata rows that keep its files alive."""

    def __init__(self, store: MediaStore, files: BlobStore, clock: Clock) -> None:
        self._store = store
        self._files = files
        self._clock = clock
        self._lock = asyncio.Lock()

    async def receive(self, chunks: AsyncIterable[bytes], max_bytes: int) -> BlobUpload:
        """Stream `chunks` into a temporary blob (finished, not yet published).

        Writing (hashing, sealing, disk) of one piece overlaps with receiving the next, so at
        most two pieces of `_FLUSH_BYTES` are in memory per upload.

        Raises:
            MatrixError: `M_TOO_LARGE` once more than `max_bytes` arrive.
        """
        upload = self._files.begin_upload()
        buffer = bytearray()
        received = 0
        writing: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > max_bytes:
                    raise MatrixError(M_TOO_LARGE, "Upload is larger than the server allows")
                buffer += chunk
                if len(buffer) >= _FLUSH_BYTES:
                    if writing is not None:
                        await writing
                    # Hand the buffer itself to the writer thread and start a new one.
                    writing = asyncio.ensure_future(upload.write(buffer))
                    buffer = bytearray()
            if writing is not None:
                await writing
            await upload.write(buffer)
            await upload.finish()
        except BaseException:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])  # let the thread finish before removing its file
            await upload.discard()
            raise
        return upload

    async def receive_bytes(self, data: bytes) -> BlobUpload:
        """A finished temporary blob holding `data` (thumbnails, preview images)."""
        upload = self._files.begin_upload()
        try:
            await upload.write(data)
            await upload.finish()
        except BaseException:
            await upload.discard()
            raise
        return upload

    async def commit(
        self, upload: BlobUpload, record: Callable[[StoredBlob], Awaitable[bool]]
    ) -> bool:
        """Publish a finished blob and run `record` to reference it in the database.

        `record` returns whether it referenced the blob; either way the temporary file is gone
        afterwards, and an unreferenced new blob is released again.
        """
        blob = await upload.finish()
        blob_id = blob.ref.blob_id
        try:
            async with self._lock:
                await upload.publish()
                try:
                    recorded = await record(blob)
                except BaseException:
                    if not await self._store.blob_known(blob_id):
                        await self._files.delete(blob_id)
                    raise
                if not recorded:
                    await self._release_locked([blob_id])
        finally:
            await upload.discard()
        return recorded

    async def release(self, blob_ids: Iterable[str]) -> int:
        """Remove the files of blobs nothing references any more; returns the bytes freed."""
        async with self._lock:
            return await self._release_locked(sorted(set(blob_ids)))

    async def _release_locked(self, blob_ids: Sequence[str]) -> int:
        freed = 0
        for blob_id, size in await self._store.release_blobs(blob_ids):
            await self._files.delete(blob_id)
            logger.debug("media blob removed blob_id=%s", blob_id)
            freed += size
        return freed

    async def open(self, ref: BlobRef, start: int, end: int) -> BlobReader:
        """Plaintext bytes [start, end) of a blob."""
        return await self._files.open(ref, start, end)

    async def read_all(self, ref: BlobRef) -> bytes:
        """A whole (small) blob in memory: thumbnails and thumbnail sources only."""
        reader = await self._files.open(ref, 0, ref.size)
        parts = [piece async for piece in reader]
        return b"".join(parts)

    def now_ms(self) -> int:
        """The clock's time, for rows written alongside blobs."""
        return self._clock.time_ms()

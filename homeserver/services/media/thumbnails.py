"""Thumbnails of local media: pre-generated on upload, made on demand, cached as blobs.

A thumbnail is stored under its actual output size, method and animation, so every request
that maps to the same output (for instance any request larger than a small source) shares one
file. A request is served by, in order: a stored thumbnail covering the wanted size with at most
four times its area; a fresh one (then cached) when dynamic thumbnails are on or nothing is
stored; otherwise the closest stored one. Rendering happens in the worker pool
(`ThumbnailPool`), never on the event loop, and only for supported images within
`max_source_bytes`. Concurrent requests for the same work share one render.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.errors import M_TOO_LARGE, M_UNKNOWN, MatrixError
from homeserver.services.media.blobs import MediaBlobs
from homeserver.services.media.render import (
    THUMBNAILABLE_TYPES,
    ImageTooLargeError,
    RenderResult,
    ThumbnailRefusedError,
    ThumbnailSpec,
    plan,
)
from homeserver.services.media.render_pool import ThumbnailPool
from homeserver.storage.media.files import BlobRef, StoredBlob
from homeserver.storage.media.metadata import MediaRecord, MediaStore, NewThumbnail, ThumbnailRecord

logger = logging.getLogger(__name__)

_REUSE_AREA_FACTOR = 4


@dataclass(frozen=True, slots=True)
class ThumbnailSettings:
    """How thumbnails are made.

    Attributes:
        pregenerate: Sizes made for every image on upload.
        dynamic: Make other sizes on demand (else serve the closest stored one).
        max_source_bytes: Larger sources are not thumbnailed (`M_TOO_LARGE`).
    """

    pregenerate: tuple[ThumbnailSpec, ...]
    dynamic: bool
    max_source_bytes: int


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A thumbnail ready to send."""

    content_type: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True, slots=True)
class _Source:
    """An image's oriented size and whether it is animated."""

    width: int
    height: int
    animated: bool


def base_type(content_type: str) -> str:
    """`type/subtype` of a Content-Type value, lower-cased, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def _cannot_thumbnail() -> MatrixError:
    return MatrixError(
        M_UNKNOWN, "Cannot generate thumbnails for the requested content", status=400
    )


class ThumbnailService:
    """Selects, renders and caches thumbnails."""

    def __init__(
        self,
        settings: ThumbnailSettings,
        store: MediaStore,
        blobs: MediaBlobs,
        pool: ThumbnailPool,
    ) -> None:
        self._settings = settings
        self._store = store
        self._blobs = blobs
        self._pool = pool
        self._inflight: dict[tuple[object, ...], asyncio.Future[RenderResult]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule_pregeneration(self, record: MediaRecord) -> None:
        """Start making the pre-generated sizes of a new upload in the background."""
        if record.blob is None or base_type(record.content_type) not in THUMBNAILABLE_TYPES:
            return
        if record.blob.size > self._settings.max_source_bytes:
            return
        task = asyncio.create_task(self._pregenerate(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pregenerate(self, record: MediaRecord) -> None:
        specs = self._settings.pregenerate
        try:
            await self._once(("pregen", record.media_id), lambda: self._make(record, specs))
        except MatrixError as exc:
            logger.info("no thumbnails media_id=%s reason=%s", record.media_id, exc.message)
        except Exception:
            logger.exception("thumbnail pre-generation failed media_id=%s", record.media_id)

    async def get(self, record: MediaRecord, spec: ThumbnailSpec) -> Thumbnail:
        """The thumbnail to serve for `spec`.

        Raises:
            MatrixError: 400 `M_UNKNOWN` for content that cannot be thumbnailed, 413
                `M_TOO_LARGE` for an image too large to thumbnail.
        """
        self._check(record)
        pending = self._inflight.get(("pregen", record.media_id))
        if pending is not None:
            await asyncio.wait([pending])
        source = await self._source(record)
        animated = spec.animated and source.animated
        want = plan(source.width, source.height, spec.width, spec.height, spec.method)
        stored = [
            t
            for t in await self._store.thumbnails(record.media_id)
            if t.method == spec.method and t.animated == animated
        ]
        chosen = _choose(stored, want.width, want.height, spec.method)
        if chosen is None and (self._settings.dynamic or not stored):
            key = (record.media_id, want.width, want.height, spec.method, animated)
            result = await self._once(key, lambda: self._make(record, (spec,)))
            made = result.thumbnails[0]
            return Thumbnail(made.content_type, made.width, made.height, made.data)
        chosen = chosen or _closest(stored, want.width, want.height)
        data = await self._blobs.read_all(chosen.blob)
        return Thumbnail(chosen.content_type, chosen.width, chosen.height, data)

    async def render_uncached(
        self, blob: BlobRef, content_type: str, spec: ThumbnailSpec
    ) -> Thumbnail:
        """A thumbnail of bytes that are not local media (a copy of another server's), made
        without reading or writing the local thumbnail cache.

        Raises:
            MatrixError: As `get`.
        """
        if base_type(content_type) not in THUMBNAILABLE_TYPES:
            raise _cannot_thumbnail()
        if blob.size > self._settings.max_source_bytes:
            raise MatrixError(M_TOO_LARGE, "Content is too large to thumbnail")
        source = await self._blobs.read_all(blob)
        try:
            result = await self._pool.render(source, (spec,))
        except ImageTooLargeError:
            raise MatrixError(M_TOO_LARGE, "Content is too large to thumbnail") from None
        except ThumbnailRefusedError:
            raise _cannot_thumbnail() from None
        made = result.thumbnails[0]
        return Thumbnail(made.content_type, made.width, made.height, made.data)

    async def dimensions(self, record: MediaRecord) -> tuple[int, int] | None:
        """An image's size (probing it if unknown), or None if it is not a usable image."""
        try:
            self._check(record)
            source = await self._source(record)
        except MatrixError:
            return None
        return source.width, source.height

    async def close(self) -> None:
        """Wait for background work, then stop the worker processes."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        await self._pool.close()

    def _check(self, record: MediaRecord) -> None:
        if record.blob is None or base_type(record.content_type) not in THUMBNAILABLE_TYPES:
            raise _cannot_thumbnail()
        if record.blob.size > self._settings.max_source_bytes:
            raise MatrixError(M_TOO_LARGE, "Content is too large to thumbnail")

    async def _source(self, record: MediaRecord) -> _Source:
        """The image's size, from the database or else from a header-only probe."""
        fresh = await self._store.get(record.media_id) or record
        if fresh.width is not None and fresh.height is not None and fresh.animated is not None:
            return _Source(fresh.width, fresh.height, fresh.animated)
        result = await self._render(record, ())
        return _Source(result.source_width, result.source_height, result.animated_source)

    async def _render(self, record: MediaRecord, specs: Sequence[ThumbnailSpec]) -> RenderResult:
        if record.blob is None:
            raise _cannot_thumbnail()
        source = await self._blobs.read_all(record.blob)
        try:
            result = await self._pool.render(source, specs)
        except ImageTooLargeError:
            raise MatrixError(M_TOO_LARGE, "Content is too large to thumbnail") from None
        except ThumbnailRefusedError:
            raise _cannot_thumbnail() from None
        await self._store.set_dimensions(
            record.media_id, result.source_width, result.source_height, result.animated_source
        )
        return result

    async def _make(self, record: MediaRecord, specs: Sequence[ThumbnailSpec]) -> RenderResult:
        """Render `specs` and store each distinct result."""
        result = await self._render(record, specs)
        seen: set[tuple[int, int, str, bool]] = set()
        for made in result.thumbnails:
            key = (made.width, made.height, made.spec.method, made.animated)
            if key in seen:
                continue
            seen.add(key)
            thumb = NewThumbnail(
                record.media_id,
                made.width,
                made.height,
                made.spec.method,
                made.animated,
                made.content_type,
            )
            await self._store_thumbnail(thumb, made.data)
        return result

    async def _store_thumbnail(self, thumb: NewThumbnail, data: bytes) -> None:
        upload = await self._blobs.receive_bytes(data)

        async def record(blob: StoredBlob) -> bool:
            return await self._store.add_thumbnail(thumb, blob, self._blobs.now_ms())

        await self._blobs.commit(upload, record)

    async def _once(
        self, key: tuple[object, ...], make: Callable[[], Awaitable[RenderResult]]
    ) -> RenderResult:
        """Run `make` once per key at a time; concurrent callers share its result."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(make())
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(future)


def _choose(
    stored: Sequence[ThumbnailRecord], width: int, height: int, method: str
) -> ThumbnailRecord | None:
    """The smallest stored thumbnail covering `width`x`height` with the right aspect."""
    fits = [
        t
        for t in stored
        if t.width >= width
        and t.height >= height
        and (method == "scale" or abs(t.width * height - t.height * width) <= max(t.width, width))
        and t.width * t.height <= _REUSE_AREA_FACTOR * width * height
    ]
    return min(fits, key=lambda t: t.width * t.height, default=None)


def _closest(stored: Sequence[ThumbnailRecord], width: int, height: int) -> ThumbnailRecord:
    """Without dynamic thumbnails: the smallest covering one, else the largest there is."""
    covering = [t for t in stored if t.width >= width and t.height >= height]
    if covering:
        return min(covering, key=lambda t: t.width * t.height)
    return max(stored, key=lambda t: t.width * t.height)

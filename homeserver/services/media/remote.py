"""Media of other servers, fetched over federation and cached here (spec: Client-Server API
"Content repository", Server-Server API "Content Repository").

A download of `mxc://ORIGIN/ID` for another ORIGIN is served from this server's copy, made on
the first request by fetching it from ORIGIN's authenticated federation media endpoint,
streaming it into the blob store like an upload, and recording it in `remote_media`.

Invariants and choices:
- Only valid server names and media IDs are asked for; the copy never exceeds
  `max_bytes` (`media.max_upload_bytes`): larger media is refused with the spec's 502
  `M_TOO_LARGE`, before reading when the origin declares its length.
- One fetch per item at a time in this process: concurrent requests share it, and a client
  that goes away does not cancel it for the others. Workers of one deployment may each fetch
  once; the first copy recorded wins and the others' blobs are released.
- `allow_remote=false` and the frozen unauthenticated endpoints never fetch. On those
  endpoints, remote media counts as new from the time it was copied (the spec's freeze rule).
- Errors: the origin's 404 is our 404 `M_NOT_FOUND`, its 504 `M_NOT_YET_UPLOADED` is ours;
  anything else (unreachable, refused, malformed, another error) is 502 `M_UNKNOWN` (as the
  federation queries answer), never a 500. Federation off: remote media is 404.
- Thumbnails are asked of the origin and cached under the size, method and animation asked
  for. When the origin cannot answer (no answer, or a 5xx) or answers something that is not an
  image, and this server holds a copy of the original, the thumbnail is rendered here from
  that copy instead (and cached the same way).
- These copies are never served to other servers: the federation media endpoints serve only
  this server's own uploads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Final

from core.errors import M_NOT_FOUND, M_NOT_YET_UPLOADED, M_TOO_LARGE, M_UNKNOWN, MatrixError
from core.identifiers import parse_server_name
from federation.errors import FederationError
from federation.media import MediaFetcher, MediaTooLargeError, RemoteFile
from homeserver.clock import Clock
from homeserver.services.media.blobs import MediaBlobs
from homeserver.services.media.naming import (
    content_type_or_default,
    filename_or_none,
    valid_media_id,
)
from homeserver.services.media.render import ThumbnailSpec
from homeserver.services.media.repository import MediaDownload
from homeserver.services.media.thumbnails import Thumbnail, ThumbnailService, base_type
from homeserver.storage.media.files import BlobReader, StoredBlob
from homeserver.storage.media.remote import (
    NewRemoteMedia,
    NewRemoteThumbnail,
    RemoteMediaRecord,
    RemoteMediaStore,
)

__all__ = ["RemoteMediaCache", "RemoteMediaSettings"]

logger = logging.getLogger(__name__)

_TOUCH_EVERY_MS: Final = 60_000
_MAX_WAIT_MS: Final = 60_000
_MAX_THUMBNAIL_BYTES: Final = 10 * 1024 * 1024
_THUMBNAIL_TYPES: Final = frozenset(
    {"image/jpeg", "image/png", "image/apng", "image/gif", "image/webp"}
)


@dataclass(frozen=True, slots=True)
class RemoteMediaSettings:
    """Limits of remote media.

    Attributes:
        max_bytes: The largest remote media copied (`media.max_upload_bytes`).
        timeout_s: Deadline of one fetch from the origin.
        frozen_before_ms: While the unauthenticated endpoints are frozen, copies made before
            this time stay available on them; None when they are not frozen.
    """

    max_bytes: int
    timeout_s: float
    frozen_before_ms: int | None


def _not_found() -> MatrixError:
    return MatrixError(M_NOT_FOUND, "Media not found")


def _fetch_failed(origin: str) -> MatrixError:
    return MatrixError(M_UNKNOWN, f"Could not fetch the media from {origin}", status=502)


def _too_large() -> MatrixError:
    return MatrixError(M_TOO_LARGE, "Remote media is too large", status=502)


class RemoteMediaCache:
    """Serves other servers' media from local copies, fetching them on first use."""

    def __init__(
        self,
        settings: RemoteMediaSettings,
        store: RemoteMediaStore,
        blobs: MediaBlobs,
        thumbnails: ThumbnailService,
        fetcher: MediaFetcher | None,
        clock: Clock,
    ) -> None:
        """Build the cache; `fetcher` is None when federation is off (nothing is fetched)."""
        self._settings = settings
        self._store = store
        self._blobs = blobs
        self._thumbnails = thumbnails
        self._fetcher = fetcher
        self._clock = clock
        self._inflight: dict[tuple[object, ...], asyncio.Future[None]] = {}

    async def close(self) -> None:
        """Stop fetches still running (their partial blobs are discarded)."""
        pending = list(self._inflight.values())
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.wait(pending)

    async def download(
        self, origin: str, media_id: str, *, wait_ms: int, legacy: bool, allow_fetch: bool
    ) -> MediaDownload:
        """The copy of `mxc://origin/media_id`, fetched first if need be.

        Raises:
            MatrixError: 404 `M_NOT_FOUND`, 502 `M_TOO_LARGE`, 502 `M_UNKNOWN` or 504
                `M_NOT_YET_UPLOADED` (see the module docstring).
        """
        record = await self._copy(origin, media_id, wait_ms, legacy, allow_fetch)
        blob = record.blob

        async def opener(start: int, end: int) -> BlobReader:
            return await self._blobs.open(blob, start, end)

        return MediaDownload(media_id, record.content_type, record.upload_name, blob.size, opener)

    async def thumbnail(
        self,
        origin: str,
        media_id: str,
        spec: ThumbnailSpec,
        *,
        wait_ms: int,
        legacy: bool,
        allow_fetch: bool,
    ) -> Thumbnail:
        """A thumbnail of `mxc://origin/media_id` (see the module docstring).

        Raises:
            MatrixError: As `download`, and 400 when the origin cannot thumbnail the media.
        """
        self._check_ids(origin, media_id)
        key = (origin, media_id, spec.width, spec.height, spec.method, spec.animated)
        if legacy and self._settings.frozen_before_ms is not None:
            await self._copy(origin, media_id, wait_ms, legacy, allow_fetch=False)
        cached = await self._store.thumbnail(*key)
        fetcher = self._fetcher
        if cached is None and allow_fetch and fetcher is not None:
            wait = min(max(wait_ms, 0), _MAX_WAIT_MS)
            await self._once(
                ("thumbnail", *key),
                lambda: self._fetch_thumbnail(fetcher, origin, media_id, spec, wait),
            )
            cached = await self._store.thumbnail(*key)
        if cached is None:
            raise _not_found()
        data = await self._blobs.read_all(cached.blob)
        # The origin chose the actual size; the size asked for stands in for it.
        return Thumbnail(cached.content_type, spec.width, spec.height, data)

    async def _copy(
        self, origin: str, media_id: str, wait_ms: int, legacy: bool, allow_fetch: bool
    ) -> RemoteMediaRecord:
        """The recorded copy, fetching it unless forbidden."""
        self._check_ids(origin, media_id)
        frozen_before = self._settings.frozen_before_ms if legacy else None
        record = await self._store.get(origin, media_id)
        fetcher = self._fetcher if allow_fetch and frozen_before is None else None
        if record is None and fetcher is not None:
            wait = min(max(wait_ms, 0), _MAX_WAIT_MS)
            await self._once(
                ("media", origin, media_id), lambda: self._fetch(fetcher, origin, media_id, wait)
            )
            record = await self._store.get(origin, media_id)
        if record is None or (frozen_before is not None and record.fetched_ts >= frozen_before):
            raise _not_found()
        now = self._clock.time_ms()
        await self._store.touch(origin, media_id, now, _TOUCH_EVERY_MS)
        return record

    def _check_ids(self, origin: str, media_id: str) -> None:
        try:
            parse_server_name(origin)
        except ValueError:
            raise _not_found() from None
        if not valid_media_id(media_id):
            raise _not_found()

    async def _once(self, key: tuple[object, ...], fetch: Callable[[], Awaitable[None]]) -> None:
        """Run `fetch` once per key at a time; concurrent callers wait for the same run."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(fetch())
            self._inflight[key] = future
            future.add_done_callback(lambda done: self._finished(key, done))
        await asyncio.shield(future)

    def _finished(self, key: tuple[object, ...], done: asyncio.Future[None]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here: callers that went away never will

    async def _fetch(self, fetcher: MediaFetcher, origin: str, media_id: str, wait_ms: int) -> None:
        """Copy the media from its origin into the blob store and record it."""

        async def receive(file: RemoteFile) -> None:
            media = NewRemoteMedia(
                origin,
                media_id,
                content_type_or_default(file.content_type),
                filename_or_none(file.filename),
            )

            async def record(blob: StoredBlob) -> bool:
                return await self._store.insert(media, blob, self._clock.time_ms())

            await self._receive(file, self._settings.max_bytes, record)

        try:
            await fetcher.download(
                origin,
                media_id,
                max_bytes=self._settings.max_bytes,
                timeout_s=self._settings.timeout_s,
                wait_ms=wait_ms,
                receive=receive,
            )
        except FederationError as exc:
            raise _failure(origin, exc) from None
        logger.info("remote media copied origin=%s media_id=%s", origin, media_id)

    async def _fetch_thumbnail(
        self,
        fetcher: MediaFetcher,
        origin: str,
        media_id: str,
        spec: ThumbnailSpec,
        wait_ms: int,
    ) -> None:
        """Copy a thumbnail from the origin, or render it from our copy of the original."""
        thumb = NewRemoteThumbnail(
            origin, media_id, spec.width, spec.height, spec.method, spec.animated, ""
        )
        limit = min(self._settings.max_bytes, _MAX_THUMBNAIL_BYTES)

        async def receive(file: RemoteFile) -> None:
            content_type = base_type(file.content_type or "")
            if content_type not in _THUMBNAIL_TYPES:
                raise FederationError(origin, "thumbnail is not an image")
            await self._receive(file, limit, self._thumbnail_recorder(thumb, content_type))

        try:
            await fetcher.thumbnail(
                origin,
                media_id,
                width=spec.width,
                height=spec.height,
                method=spec.method,
                animated=spec.animated,
                max_bytes=limit,
                timeout_s=self._settings.timeout_s,
                wait_ms=wait_ms,
                receive=receive,
            )
        except FederationError as exc:
            if exc.status == 400:
                raise MatrixError(
                    M_UNKNOWN, "Cannot generate thumbnails for the requested content", status=400
                ) from None
            original = await self._store.get(origin, media_id)
            if original is None or not _origin_failed(exc):
                raise _failure(origin, exc) from None
            logger.info(
                "remote thumbnail rendered here origin=%s media_id=%s error=%s",
                origin,
                media_id,
                exc,
            )
            made = await self._thumbnails.render_uncached(
                original.blob, original.content_type, spec
            )
            upload = await self._blobs.receive_bytes(made.data)
            await self._blobs.commit(upload, self._thumbnail_recorder(thumb, made.content_type))

    def _thumbnail_recorder(
        self, thumb: NewRemoteThumbnail, content_type: str
    ) -> Callable[[StoredBlob], Awaitable[bool]]:
        stored = replace(thumb, content_type=content_type)

        async def record(blob: StoredBlob) -> bool:
            return await self._store.add_thumbnail(stored, blob, self._clock.time_ms())

        return record

    async def _receive(
        self, file: RemoteFile, limit: int, record: Callable[[StoredBlob], Awaitable[bool]]
    ) -> None:
        """Stream the file into a blob, then record it (a copy recorded meanwhile wins)."""
        try:
            upload = await self._blobs.receive(file.chunks, limit)
        except MatrixError as exc:
            if exc.errcode == M_TOO_LARGE:
                raise _too_large() from None
            raise
        await self._blobs.commit(upload, record)


def _origin_failed(exc: FederationError) -> bool:
    """Whether the origin could not answer (so our copy of the original may stand in)."""
    if isinstance(exc, MediaTooLargeError):
        return False
    return exc.status is None or exc.status >= 500


def _failure(origin: str, exc: FederationError) -> MatrixError:
    """Our client's error for a failed fetch from `origin`."""
    if isinstance(exc, MediaTooLargeError) or exc.errcode == M_TOO_LARGE:
        return _too_large()
    if exc.status == 404:
        return _not_found()
    if exc.errcode == M_NOT_YET_UPLOADED:
        return MatrixError(M_NOT_YET_UPLOADED, "Content has not yet been uploaded")
    logger.info("remote media fetch failed origin=%s error=%s", origin, exc)
    return _fetch_failed(origin)

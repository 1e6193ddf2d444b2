"""The content repository (spec: "Content repository"): uploads, downloads and thumbnails.

Invariants:
- Only media of this server is stored here (`mxc://SERVER_NAME/ID`, IDs of `[A-Za-z0-9_-]`,
  checked before any lookup, as the spec's security considerations require). Other servers'
  media is served by the `RemoteMedia` port (cached copies fetched over federation, see
  `remote.py`), or is `M_NOT_FOUND` when there is none.
- Upload bodies are streamed to the blob store as they arrive (`MediaBlobs.receive`), never held
  whole in memory; the size limit and the per-user quota are checked against the declared
  length before reading and against the real length after.
- Quarantined media is answered as absent on every read path. The deprecated unauthenticated
  endpoints (`legacy=True`) answer `M_NOT_FOUND` for media created since the freeze.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from core.errors import (
    M_CANNOT_OVERWRITE_MEDIA,
    M_FORBIDDEN,
    M_LIMIT_EXCEEDED,
    M_NOT_FOUND,
    M_NOT_YET_UPLOADED,
    M_TOO_LARGE,
    JsonDict,
    MatrixError,
)
from core.identifiers import UserId
from homeserver.clock import Clock
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.common.requester import Requester
from homeserver.services.media.blobs import MediaBlobs
from homeserver.services.media.naming import (
    checked_filename,
    content_type_or_default,
    new_media_id,
    valid_media_id,
)
from homeserver.services.media.render import ThumbnailSpec
from homeserver.services.media.thumbnails import Thumbnail, ThumbnailService
from homeserver.storage.media.files import BlobReader, StoredBlob
from homeserver.storage.media.metadata import MediaRecord, MediaStore, NewMedia

__all__ = [
    "IncomingUpload",
    "MediaDownload",
    "MediaService",
    "MediaSettings",
    "RemoteMedia",
]


_MAX_WAIT_MS = 60_000
_POLL_S = 1.0
_TOUCH_EVERY_MS = 60_000


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """The content repository's limits and policies (see `media:` in the config).

    Attributes:
        server_name: The server name in our `mxc://` URIs.
        max_upload_bytes: Larger uploads get `M_TOO_LARGE`.
        user_quota_bytes: Total bytes one user may store, or None for no quota.
        upload_limit: Rate of uploads and `/create` calls per user.
        unused_id_expiry_ms: Lifetime of an ID from `/create` that has no upload yet.
        max_pending_uploads: Such IDs one user may hold at once.
        freeze_unauthenticated: Whether the deprecated unauthenticated endpoints are frozen.
        legacy_media_before_ms: While frozen, media created before this time stays available
            on them.
    """

    server_name: str
    max_upload_bytes: int
    user_quota_bytes: int | None
    upload_limit: Limit
    unused_id_expiry_ms: int
    max_pending_uploads: int
    freeze_unauthenticated: bool
    legacy_media_before_ms: int


@dataclass(frozen=True, slots=True)
class IncomingUpload:
    """An upload request: its headers and the body as a stream of chunks."""

    content_type: str | None
    filename: str | None
    declared_size: int | None
    chunks: AsyncIterable[bytes]


@dataclass(frozen=True, slots=True)
class MediaDownload:
    """A media item about to be served: metadata and a way to read any byte range."""

    media_id: str
    content_type: str
    upload_name: str | None
    size: int
    opener: Callable[[int, int], Awaitable[BlobReader]]

    async def open(self, start: int, end: int) -> BlobReader:
        """The plaintext bytes [start, end)."""
        return await self.opener(start, end)


class RemoteMedia(Protocol):
    """Other servers' media (`remote.RemoteMediaCache`)."""

    async def download(
        self, origin: str, media_id: str, *, wait_ms: int, legacy: bool, allow_fetch: bool
    ) -> MediaDownload:
        """The media item `mxc://origin/media_id`."""
        ...

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
        """A thumbnail of `mxc://origin/media_id`."""
        ...

    async def close(self) -> None:
        """Stop fetches still running."""
        ...


class MediaService:
    """Uploads, downloads and thumbnails of local media."""

    def __init__(
        self,
        settings: MediaSettings,
        store: MediaStore,
        blobs: MediaBlobs,
        thumbnails: ThumbnailService,
        limiter: RateLimiter,
        clock: Clock,
        remote: RemoteMedia | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._blobs = blobs
        self._thumbnails = thumbnails
        self._limiter = limiter
        self._clock = clock
        self._remote = remote
        self._uploaded: dict[str, asyncio.Event] = {}

    async def close(self) -> None:
        """Stop remote fetches, finish background thumbnail work, stop the thumbnail workers."""
        if self._remote is not None:
            await self._remote.close()
        await self._thumbnails.close()

    def config(self) -> JsonDict:
        """The body of `GET /media/config`."""
        return {"m.upload.size": self._settings.max_upload_bytes}

    def mxc(self, media_id: str) -> str:
        """The `mxc://` URI of a local media ID."""
        return f"mxc://{self._settings.server_name}/{media_id}"

    async def upload(self, requester: Requester, upload: IncomingUpload) -> str:
        """Store a new upload (`POST /upload`); returns its `mxc://` URI."""
        self._limiter.check("media_upload", requester.user_id, self._settings.upload_limit)
        media = NewMedia(
            media_id=new_media_id(),
            user_id=requester.user_id,
            content_type=content_type_or_default(upload.content_type),
            upload_name=checked_filename(upload.filename),
        )

        async def record(blob: StoredBlob) -> bool:
            await self._store.insert_uploaded(media, blob, self._clock.time_ms())
            return True

        await self._receive(requester, upload, record)
        await self._after_upload(media.media_id)
        return self.mxc(media.media_id)

    async def create(self, requester: Requester) -> JsonDict:
        """Reserve an `mxc://` URI for a later upload (`POST /create`)."""
        self._limiter.check("media_upload", requester.user_id, self._settings.upload_limit)
        now = self._clock.time_ms()
        pending = await self._store.pending_expiries(requester.user_id, now)
        if len(pending) >= self._settings.max_pending_uploads:
            raise MatrixError(
                M_LIMIT_EXCEEDED,
                "Too many pending uploads",
                extra={"retry_after_ms": max(1, pending[0] - now)},
            )
        media_id = new_media_id()
        expires = now + self._settings.unused_id_expiry_ms
        await self._store.create_pending(media_id, requester.user_id, now, expires)
        return {"content_uri": self.mxc(media_id), "unused_expires_at": expires}

    async def upload_to(
        self, requester: Requester, server_name: str, media_id: str, upload: IncomingUpload
    ) -> None:
        """Upload to a reserved URI (`PUT /upload/{serverName}/{mediaId}`)."""
        record = await self._local(server_name, media_id)
        if record is None:
            raise MatrixError(M_NOT_FOUND, "Unknown media ID")
        if record.user_id != requester.user_id:
            raise MatrixError(M_FORBIDDEN, "This media ID was created by another user")
        if record.blob is not None:
            raise MatrixError(M_CANNOT_OVERWRITE_MEDIA, "Media already uploaded")
        if self._expired(record):
            raise MatrixError(M_NOT_FOUND, "This media ID has expired")
        media = NewMedia(
            media_id=media_id,
            user_id=requester.user_id,
            content_type=content_type_or_default(upload.content_type),
            upload_name=checked_filename(upload.filename),
        )

        async def record_blob(blob: StoredBlob) -> bool:
            return await self._store.complete_pending(media, blob, self._clock.time_ms())

        if not await self._receive(requester, upload, record_blob):
            latest = await self._store.get(media_id)
            if latest is not None and latest.blob is not None:
                raise MatrixError(M_CANNOT_OVERWRITE_MEDIA, "Media already uploaded")
            raise MatrixError(M_NOT_FOUND, "This media ID has expired")
        await self._after_upload(media_id)

    async def store_preview_image(self, data: bytes, content_type: str) -> MediaRecord:
        """Store an image fetched for a URL preview (owned by no user, outside quotas)."""
        media = NewMedia(
            new_media_id(), None, content_type_or_default(content_type), None, url_preview=True
        )
        upload = await self._blobs.receive_bytes(data)

        async def record(blob: StoredBlob) -> bool:
            await self._store.insert_uploaded(media, blob, self._clock.time_ms())
            return True

        await self._blobs.commit(upload, record)
        return await self._after_upload(media.media_id)

    async def image_size(self, record: MediaRecord) -> tuple[int, int] | None:
        """The pixel size of an image item, or None if it is not a usable image."""
        return await self._thumbnails.dimensions(record)

    async def download(
        self,
        server_name: str,
        media_id: str,
        *,
        timeout_ms: int,
        legacy: bool,
        allow_remote: bool = True,
    ) -> MediaDownload:
        """A media item to serve (waiting up to `timeout_ms` for a pending upload); another
        server's media comes from its cached copy, fetched first unless `allow_remote` is off.

        Raises:
            MatrixError: `M_NOT_FOUND` (also for quarantined and, on frozen legacy endpoints,
                new media), 504 `M_NOT_YET_UPLOADED` when the upload does not come in time,
                and for remote media the errors of `RemoteMediaCache.download`.
        """
        if server_name != self._settings.server_name:
            if self._remote is None:
                raise MatrixError(M_NOT_FOUND, "Media not found")
            return await self._remote.download(
                server_name, media_id, wait_ms=timeout_ms, legacy=legacy, allow_fetch=allow_remote
            )
        record = await self._readable(server_name, media_id, timeout_ms, legacy)
        blob = record.blob
        if blob is None:  # _readable returns only uploaded media
            raise MatrixError(M_NOT_FOUND, "Media not found")
        await self._store.touch(media_id, self._clock.time_ms(), _TOUCH_EVERY_MS)

        async def opener(start: int, end: int) -> BlobReader:
            return await self._blobs.open(blob, start, end)

        return MediaDownload(media_id, record.content_type, record.upload_name, blob.size, opener)

    async def thumbnail(
        self,
        server_name: str,
        media_id: str,
        spec: ThumbnailSpec,
        *,
        timeout_ms: int,
        legacy: bool,
        allow_remote: bool = True,
    ) -> Thumbnail:
        """A thumbnail of a media item (see `ThumbnailService.get`, and for another server's
        media `RemoteMediaCache.thumbnail`)."""
        if server_name != self._settings.server_name:
            if self._remote is None:
                raise MatrixError(M_NOT_FOUND, "Media not found")
            return await self._remote.thumbnail(
                server_name,
                media_id,
                spec,
                wait_ms=timeout_ms,
                legacy=legacy,
                allow_fetch=allow_remote,
            )
        record = await self._readable(server_name, media_id, timeout_ms, legacy)
        await self._store.touch(media_id, self._clock.time_ms(), _TOUCH_EVERY_MS)
        return await self._thumbnails.get(record, spec)

    async def _receive(
        self,
        requester: Requester,
        upload: IncomingUpload,
        record: Callable[[StoredBlob], Awaitable[bool]],
    ) -> bool:
        """Check the declared size, stream the body in, check the real size, then record."""
        limit = self._settings.max_upload_bytes
        if upload.declared_size is not None:
            if upload.declared_size > limit:
                raise MatrixError(M_TOO_LARGE, "Upload is larger than the server allows")
            await self._check_quota(requester.user_id, upload.declared_size)
        received = await self._blobs.receive(upload.chunks, limit)
        try:
            await self._check_quota(requester.user_id, received.size)
        except MatrixError:
            await received.discard()
            raise
        return await self._blobs.commit(received, record)

    async def _check_quota(self, user_id: UserId, incoming: int) -> None:
        quota = self._settings.user_quota_bytes
        if quota is not None and await self._store.usage(user_id) + incoming > quota:
            raise MatrixError(M_FORBIDDEN, "Media quota exceeded")

    async def _after_upload(self, media_id: str) -> MediaRecord:
        """Wake downloads waiting for this ID and start its thumbnails."""
        event = self._uploaded.pop(media_id, None)
        if event is not None:
            event.set()
        record = await self._store.get(media_id)
        if record is None:
            raise MatrixError(M_NOT_FOUND, "Media not found")
        self._thumbnails.schedule_pregeneration(record)
        return record

    async def _local(self, server_name: str, media_id: str) -> MediaRecord | None:
        if server_name != self._settings.server_name or not valid_media_id(media_id):
            return None
        return await self._store.get(media_id)

    def _expired(self, record: MediaRecord) -> bool:
        expires = record.unused_expires_ts
        return record.blob is None and (expires is None or expires <= self._clock.time_ms())

    async def _readable(
        self, server_name: str, media_id: str, timeout_ms: int, legacy: bool
    ) -> MediaRecord:
        """An uploaded, unquarantined item, waiting for a pending upload if need be."""
        deadline = self._clock.monotonic() + min(max(timeout_ms, 0), _MAX_WAIT_MS) / 1000
        try:
            return await self._wait_readable(server_name, media_id, deadline, legacy)
        finally:
            # Other waiters holding this event fall back to polling; no entry outlives its wait.
            self._uploaded.pop(media_id, None)

    async def _wait_readable(
        self, server_name: str, media_id: str, deadline: float, legacy: bool
    ) -> MediaRecord:
        while True:
            record = await self._local(server_name, media_id)
            if record is None or record.quarantined or self._expired(record):
                raise MatrixError(M_NOT_FOUND, "Media not found")
            if legacy and self._frozen(record):
                raise MatrixError(M_NOT_FOUND, "Media not found")
            if record.blob is not None:
                return record
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                raise MatrixError(M_NOT_YET_UPLOADED, "Content has not yet been uploaded")
            # Woken by an upload in this process; polling covers uploads to other workers.
            event = self._uploaded.setdefault(media_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, _POLL_S))

    def _frozen(self, record: MediaRecord) -> bool:
        settings = self._settings
        return (
            settings.freeze_unauthenticated and record.created_ts >= settings.legacy_media_before_ms
        )

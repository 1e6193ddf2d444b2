"""Media metadata: local media, the blobs they point at, thumbnails and cached URL previews.

Invariants: a `media` row with a `blob_id` is uploaded and its blob row exists; a blob row is
deleted only when no media or thumbnail row, local or remote (`remote.py`), references it
(`release_blobs`), and only then may its file be removed. Uploaded sizes are plaintext sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.identifiers import UserId
from homeserver.storage.database import Connection, Database, Row
from homeserver.storage.media.files import BlobRef, StoredBlob

__all__ = [
    "MediaRecord",
    "MediaStore",
    "NewMedia",
    "NewThumbnail",
    "ThumbnailRecord",
    "add_blob",
]

_MEDIA_COLUMNS = (
    "m.media_id, m.user_id, m.content_type, m.upload_name, m.created_ts, m.unused_expires_ts,"
    " m.upload_ts, m.blob_id, m.size, m.width, m.height, m.animated, m.quarantined, m.url_preview,"
    " m.last_access_ts, b.encrypted"
)


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """One local media item (uploaded, or an ID waiting for its upload)."""

    media_id: str
    user_id: UserId | None
    content_type: str
    upload_name: str | None
    created_ts: int
    unused_expires_ts: int | None
    upload_ts: int | None
    blob: BlobRef | None
    width: int | None
    height: int | None
    animated: bool | None
    quarantined: bool
    url_preview: bool
    last_access_ts: int


@dataclass(frozen=True, slots=True)
class NewMedia:
    """The metadata of an upload, recorded with its blob."""

    media_id: str
    user_id: UserId | None
    content_type: str
    upload_name: str | None
    url_preview: bool = False


@dataclass(frozen=True, slots=True)
class NewThumbnail:
    """A generated thumbnail of a media item, recorded with its blob."""

    media_id: str
    width: int
    height: int
    method: str
    animated: bool
    content_type: str


@dataclass(frozen=True, slots=True)
class ThumbnailRecord:
    """A stored thumbnail of a media item: its actual size and how it was made."""

    media_id: str
    width: int
    height: int
    method: str
    animated: bool
    content_type: str
    blob: BlobRef


def _media(row: Row) -> MediaRecord:
    blob = None
    if row["blob_id"] is not None:
        blob = BlobRef(row["blob_id"], int(row["size"]), bool(row["encrypted"]))
    return MediaRecord(
        media_id=row["media_id"],
        user_id=UserId(row["user_id"]) if row["user_id"] is not None else None,
        content_type=row["content_type"],
        upload_name=row["upload_name"],
        created_ts=int(row["created_ts"]),
        unused_expires_ts=row["unused_expires_ts"],
        upload_ts=row["upload_ts"],
        blob=blob,
        width=row["width"],
        height=row["height"],
        animated=None if row["animated"] is None else bool(row["animated"]),
        quarantined=bool(row["quarantined"]),
        url_preview=bool(row["url_preview"]),
        last_access_ts=int(row["last_access_ts"]),
    )


async def add_blob(conn: Connection, blob: StoredBlob, now_ms: int) -> None:
    """Record a published blob (a no-op if it is known), in the caller's transaction."""
    await conn.execute(
        "INSERT INTO media_blobs (blob_id, size, encrypted, sha256, created_ts)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (blob_id) DO NOTHING",
        blob.ref.blob_id,
        blob.ref.size,
        int(blob.ref.encrypted),
        blob.sha256,
        now_ms,
    )


class MediaStore:
    """Reads and writes `media`, `media_blobs`, `media_thumbnails` and `url_previews`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, media_id: str) -> MediaRecord | None:
        """A media item by ID."""
        row = await self._db.fetch_one(
            f"SELECT {_MEDIA_COLUMNS} FROM media m"  # noqa: S608 (constant column list)
            " LEFT JOIN media_blobs b ON b.blob_id = m.blob_id WHERE m.media_id = $1",
            media_id,
        )
        return _media(row) if row else None

    async def create_pending(
        self, media_id: str, user_id: UserId, now_ms: int, expires_ms: int
    ) -> None:
        """Reserve an ID for a later upload (`POST /create`)."""
        await self._db.execute(
            "INSERT INTO media (media_id, user_id, content_type, created_ts, unused_expires_ts,"
            " last_access_ts) VALUES ($1, $2, 'application/octet-stream', $3, $4, $3)",
            media_id,
            user_id,
            now_ms,
            expires_ms,
        )

    async def pending_expiries(self, user_id: UserId, now_ms: int) -> list[int]:
        """Expiry times of the user's reserved IDs that are neither uploaded nor expired."""
        rows = await self._db.fetch_all(
            "SELECT unused_expires_ts FROM media WHERE user_id = $1 AND blob_id IS NULL"
            " AND unused_expires_ts > $2 ORDER BY unused_expires_ts",
            user_id,
            now_ms,
        )
        return [int(row["unused_expires_ts"]) for row in rows]

    async def insert_uploaded(self, media: NewMedia, blob: StoredBlob, now_ms: int) -> None:
        """Record a finished upload under a new ID, with its blob."""
        async with self._db.transaction() as conn:
            await add_blob(conn, blob, now_ms)
            await conn.execute(
                "INSERT INTO media (media_id, user_id, content_type, upload_name, created_ts,"
                " upload_ts, blob_id, size, url_preview, last_access_ts)"
                " VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $5)",
                media.media_id,
                media.user_id,
                media.content_type,
                media.upload_name,
                now_ms,
                blob.ref.blob_id,
                blob.ref.size,
                int(media.url_preview),
            )

    async def complete_pending(self, media: NewMedia, blob: StoredBlob, now_ms: int) -> bool:
        """Attach an upload to a reserved ID; False if it was uploaded (or expired) meanwhile."""
        async with self._db.transaction() as conn:
            await add_blob(conn, blob, now_ms)
            changed = await conn.execute(
                "UPDATE media SET content_type = $2, upload_name = $3, upload_ts = $4,"
                " blob_id = $5, size = $6, unused_expires_ts = NULL, last_access_ts = $4"
                " WHERE media_id = $1 AND blob_id IS NULL AND unused_expires_ts > $4",
                media.media_id,
                media.content_type,
                media.upload_name,
                now_ms,
                blob.ref.blob_id,
                blob.ref.size,
            )
            return changed == 1

    async def usage(self, user_id: UserId) -> int:
        """Bytes of uploaded media the user owns."""
        total = await self._db.fetch_val(
            "SELECT SUM(size) FROM media WHERE user_id = $1 AND blob_id IS NOT NULL", user_id
        )
        return int(total or 0)

    async def set_dimensions(self, media_id: str, width: int, height: int, animated: bool) -> None:
        """Remember an image's size (after EXIF orientation) and whether it is animated."""
        await self._db.execute(
            "UPDATE media SET width = $2, height = $3, animated = $4 WHERE media_id = $1",
            media_id,
            width,
            height,
            int(animated),
        )

    async def touch(self, media_id: str, now_ms: int, older_than_ms: int) -> None:
        """Record an access, at most one write per `older_than_ms`."""
        await self._db.execute(
            "UPDATE media SET last_access_ts = $2 WHERE media_id = $1 AND last_access_ts < $3",
            media_id,
            now_ms,
            now_ms - older_than_ms,
        )

    async def set_quarantined(self, media_id: str, quarantined: bool) -> bool:
        """Quarantine or release an item; False if there is no such item."""
        changed = await self._db.execute(
            "UPDATE media SET quarantined = $2 WHERE media_id = $1", media_id, int(quarantined)
        )
        return changed == 1

    async def thumbnails(self, media_id: str) -> list[ThumbnailRecord]:
        """Every stored thumbnail of an item."""
        rows = await self._db.fetch_all(
            "SELECT t.media_id, t.width, t.height, t.method, t.animated, t.content_type,"
            " t.blob_id, t.size, b.encrypted FROM media_thumbnails t"
            " JOIN media_blobs b ON b.blob_id = t.blob_id WHERE t.media_id = $1",
            media_id,
        )
        return [
            ThumbnailRecord(
                media_id=row["media_id"],
                width=int(row["width"]),
                height=int(row["height"]),
                method=row["method"],
                animated=bool(row["animated"]),
                content_type=row["content_type"],
                blob=BlobRef(row["blob_id"], int(row["size"]), bool(row["encrypted"])),
            )
            for row in rows
        ]

    async def add_thumbnail(self, thumb: NewThumbnail, blob: StoredBlob, now_ms: int) -> bool:
        """Record a generated thumbnail; False when the item was deleted meanwhile or a
        concurrent identical thumbnail won (the caller releases the blob)."""
        async with self._db.transaction() as conn:
            await add_blob(conn, blob, now_ms)
            changed = await conn.execute(
                "INSERT INTO media_thumbnails (media_id, width, height, method, animated,"
                " content_type, blob_id, size) SELECT $1, $2, $3, $4, $5, $6, $7, $8"
                " WHERE EXISTS (SELECT 1 FROM media WHERE media_id = $1)"
                " ON CONFLICT (media_id, width, height, method, animated) DO NOTHING",
                thumb.media_id,
                thumb.width,
                thumb.height,
                thumb.method,
                int(thumb.animated),
                thumb.content_type,
                blob.ref.blob_id,
                blob.ref.size,
            )
            return changed == 1

    async def media_ids_of_user(self, user_id: UserId) -> list[str]:
        """Every item a user uploaded or reserved."""
        rows = await self._db.fetch_all("SELECT media_id FROM media WHERE user_id = $1", user_id)
        return [row["media_id"] for row in rows]

    async def not_accessed_since(self, before_ms: int, limit: int) -> list[str]:
        """Uploaded items last accessed before `before_ms`."""
        rows = await self._db.fetch_all(
            "SELECT media_id FROM media WHERE last_access_ts < $1 AND blob_id IS NOT NULL"
            " ORDER BY last_access_ts LIMIT $2",
            before_ms,
            limit,
        )
        return [row["media_id"] for row in rows]

    async def expired_pending(self, now_ms: int, limit: int) -> list[str]:
        """Reserved IDs whose upload never came in time."""
        rows = await self._db.fetch_all(
            "SELECT media_id FROM media WHERE blob_id IS NULL AND unused_expires_ts <= $1"
            " ORDER BY unused_expires_ts LIMIT $2",
            now_ms,
            limit,
        )
        return [row["media_id"] for row in rows]

    async def blob_known(self, blob_id: str) -> bool:
        """Whether a blob row exists."""
        found = await self._db.fetch_val("SELECT 1 FROM media_blobs WHERE blob_id = $1", blob_id)
        return found is not None

    async def delete_many(self, media_ids: Sequence[str]) -> list[str]:
        """Delete items and their thumbnails, in one transaction; returns the blob IDs they
        referenced."""
        blob_ids: list[str] = []
        async with self._db.transaction() as conn:
            for media_id in media_ids:
                rows = await conn.fetch_all(
                    "SELECT blob_id FROM media WHERE media_id = $1 AND blob_id IS NOT NULL"
                    " UNION SELECT blob_id FROM media_thumbnails WHERE media_id = $1",
                    media_id,
                )
                await conn.execute("DELETE FROM media_thumbnails WHERE media_id = $1", media_id)
                await conn.execute("DELETE FROM media WHERE media_id = $1", media_id)
                blob_ids.extend(row["blob_id"] for row in rows)
        return blob_ids

    async def release_blobs(self, blob_ids: Sequence[str]) -> list[tuple[str, int]]:
        """Forget the blobs nothing references, in one transaction: `(blob_id, size)` of those
        forgotten (their files may now be removed)."""
        released: list[tuple[str, int]] = []
        async with self._db.transaction() as conn:
            for blob_id in blob_ids:
                size = await conn.fetch_val(
                    "DELETE FROM media_blobs WHERE blob_id = $1"
                    " AND NOT EXISTS (SELECT 1 FROM media WHERE blob_id = $1)"
                    " AND NOT EXISTS (SELECT 1 FROM media_thumbnails WHERE blob_id = $1)"
                    " AND NOT EXISTS (SELECT 1 FROM remote_media WHERE blob_id = $1)"
                    " AND NOT EXISTS (SELECT 1 FROM remote_media_thumbnails WHERE blob_id = $1)"
                    " RETURNING size",
                    blob_id,
                )
                if size is not None:
                    released.append((blob_id, int(size)))
        return released

    async def cached_preview(self, url: str, since_ms: int) -> str | None:
        """The newest preview JSON of `url` fetched at or after `since_ms`."""
        value: Any = await self._db.fetch_val(
            "SELECT og FROM url_previews WHERE url = $1 AND fetched_ts >= $2"
            " ORDER BY fetched_ts DESC LIMIT 1",
            url,
            since_ms,
        )
        return str(value) if value is not None else None

    async def store_preview(self, url: str, fetched_ms: int, og_json: str) -> None:
        """Cache a preview."""
        await self._db.execute(
            "INSERT INTO url_previews (url, fetched_ts, og) VALUES ($1, $2, $3)"
            " ON CONFLICT (url, fetched_ts) DO NOTHING",
            url,
            fetched_ms,
            og_json,
        )

    async def purge_previews(self, before_ms: int) -> int:
        """Drop cached previews fetched before `before_ms`; returns how many."""
        return await self._db.execute("DELETE FROM url_previews WHERE fetched_ts < $1", before_ms)

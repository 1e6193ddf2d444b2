"""Cached copies of other servers' media and of their thumbnails (`remote_media`,
`remote_media_thumbnails`), keyed by origin server and media ID.

Invariants: a row always references a recorded blob (the row and its `media_blobs` row commit
in one transaction); the first copy of an item wins, so concurrent fetches of the same item
leave one row and the loser's blob is released by the caller (`MediaBlobs.commit`).
"""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.storage.database import Database, Row
from homeserver.storage.media.files import BlobRef, StoredBlob
from homeserver.storage.media.metadata import add_blob

__all__ = [
    "NewRemoteMedia",
    "NewRemoteThumbnail",
    "RemoteMediaRecord",
    "RemoteMediaStore",
    "RemoteThumbnailRecord",
]


@dataclass(frozen=True, slots=True)
class NewRemoteMedia:
    """A fetched remote item's metadata, recorded with its blob."""

    origin: str
    media_id: str
    content_type: str
    upload_name: str | None


@dataclass(frozen=True, slots=True)
class RemoteMediaRecord:
    """A cached copy of a remote item."""

    origin: str
    media_id: str
    content_type: str
    upload_name: str | None
    blob: BlobRef
    fetched_ts: int
    last_access_ts: int


@dataclass(frozen=True, slots=True)
class NewRemoteThumbnail:
    """A thumbnail of a remote item, under the size and method that was asked for."""

    origin: str
    media_id: str
    width: int
    height: int
    method: str
    animated: bool
    content_type: str


@dataclass(frozen=True, slots=True)
class RemoteThumbnailRecord:
    """A cached thumbnail of a remote item."""

    content_type: str
    blob: BlobRef


def _blob(row: Row) -> BlobRef:
    return BlobRef(row["blob_id"], int(row["size"]), bool(row["encrypted"]))


class RemoteMediaStore:
    """Reads and writes the cached copies of remote media."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, origin: str, media_id: str) -> RemoteMediaRecord | None:
        """The cached copy of `mxc://origin/media_id`, if any."""
        row = await self._db.fetch_one(
            "SELECT r.origin, r.media_id, r.content_type, r.upload_name, r.blob_id, r.size,"
            " r.fetched_ts, r.last_access_ts, b.encrypted FROM remote_media r"
            " JOIN media_blobs b ON b.blob_id = r.blob_id"
            " WHERE r.origin = $1 AND r.media_id = $2",
            origin,
            media_id,
        )
        if row is None:
            return None
        return RemoteMediaRecord(
            origin=row["origin"],
            media_id=row["media_id"],
            content_type=row["content_type"],
            upload_name=row["upload_name"],
            blob=_blob(row),
            fetched_ts=int(row["fetched_ts"]),
            last_access_ts=int(row["last_access_ts"]),
        )

    async def insert(self, media: NewRemoteMedia, blob: StoredBlob, now_ms: int) -> bool:
        """Record a fetched copy with its blob; False if a copy was recorded meanwhile."""
        async with self._db.transaction() as conn:
            await add_blob(conn, blob, now_ms)
            changed = await conn.execute(
                "INSERT INTO remote_media (origin, media_id, content_type, upload_name, blob_id,"
                " size, fetched_ts, last_access_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
                " ON CONFLICT (origin, media_id) DO NOTHING",
                media.origin,
                media.media_id,
                media.content_type,
                media.upload_name,
                blob.ref.blob_id,
                blob.ref.size,
                now_ms,
            )
            return changed == 1

    async def touch(self, origin: str, media_id: str, now_ms: int, older_than_ms: int) -> None:
        """Record an access, at most one write per `older_than_ms`."""
        await self._db.execute(
            "UPDATE remote_media SET last_access_ts = $3"
            " WHERE origin = $1 AND media_id = $2 AND last_access_ts < $4",
            origin,
            media_id,
            now_ms,
            now_ms - older_than_ms,
        )

    async def delete(self, origin: str, media_id: str) -> list[str]:
        """Delete the copy of an item and its thumbnails; returns the blob IDs they used."""
        async with self._db.transaction() as conn:
            rows = await conn.fetch_all(
                "SELECT blob_id FROM remote_media WHERE origin = $1 AND media_id = $2"
                " UNION SELECT blob_id FROM remote_media_thumbnails"
                " WHERE origin = $1 AND media_id = $2",
                origin,
                media_id,
            )
            for table in ("remote_media_thumbnails", "remote_media"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE origin = $1 AND media_id = $2",  # noqa: S608
                    origin,
                    media_id,
                )
        return [row["blob_id"] for row in rows]

    async def thumbnail(
        self, origin: str, media_id: str, width: int, height: int, method: str, animated: bool
    ) -> RemoteThumbnailRecord | None:
        """The cached thumbnail asked for with exactly these parameters, if any."""
        row = await self._db.fetch_one(
            "SELECT t.content_type, t.blob_id, t.size, b.encrypted FROM remote_media_thumbnails t"
            " JOIN media_blobs b ON b.blob_id = t.blob_id WHERE t.origin = $1"
            " AND t.media_id = $2 AND t.width = $3 AND t.height = $4 AND t.method = $5"
            " AND t.animated = $6",
            origin,
            media_id,
            width,
            height,
            method,
            int(animated),
        )
        return RemoteThumbnailRecord(row["content_type"], _blob(row)) if row else None

    async def add_thumbnail(self, thumb: NewRemoteThumbnail, blob: StoredBlob, now_ms: int) -> bool:
        """Record a thumbnail with its blob; False if one was recorded meanwhile."""
        async with self._db.transaction() as conn:
            await add_blob(conn, blob, now_ms)
            changed = await conn.execute(
                "INSERT INTO remote_media_thumbnails (origin, media_id, width, height, method,"
                " animated, content_type, blob_id, size, fetched_ts)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " ON CONFLICT (origin, media_id, width, height, method, animated) DO NOTHING",
                thumb.origin,
                thumb.media_id,
                thumb.width,
                thumb.height,
                thumb.method,
                int(thumb.animated),
                thumb.content_type,
                blob.ref.blob_id,
                blob.ref.size,
                now_ms,
            )
            return changed == 1

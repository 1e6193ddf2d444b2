"""`MediaStore` on both backends: reserved IDs, blob references and their release."""

from __future__ import annotations

from homeserver.storage.factory import Stores
from homeserver.storage.media.files import BlobRef, StoredBlob
from homeserver.storage.media.metadata import NewMedia, NewThumbnail

BLOB = StoredBlob(BlobRef("p" + "a" * 64, 10, False), "a" * 64)
OTHER = StoredBlob(BlobRef("e" + "b" * 64, 20, True), "b" * 64)


async def test_reserved_id_is_completed_once(stores: Stores) -> None:
    media = stores.media
    await media.create_pending("abc", "@a:hs", 1000, 5000)
    assert await media.pending_expiries("@a:hs", 1000) == [5000]
    upload = NewMedia("abc", "@a:hs", "text/plain", "a.txt")
    assert await media.complete_pending(upload, BLOB, 2000)
    assert not await media.complete_pending(upload, OTHER, 2001)  # cannot overwrite
    record = await media.get("abc")
    assert record is not None
    assert record.blob == BLOB.ref
    assert (record.content_type, record.upload_name, record.upload_ts) == (
        "text/plain",
        "a.txt",
        2000,
    )
    assert await media.pending_expiries("@a:hs", 1000) == []
    assert await media.usage("@a:hs") == 10


async def test_expired_reservation_cannot_be_completed(stores: Stores) -> None:
    await stores.media.create_pending("late", "@a:hs", 1000, 1500)
    upload = NewMedia("late", "@a:hs", "text/plain", None)
    assert not await stores.media.complete_pending(upload, BLOB, 1500)
    assert await stores.media.expired_pending(1500, 10) == ["late"]


async def test_blob_is_released_only_when_unreferenced(stores: Stores) -> None:
    media = stores.media
    await media.insert_uploaded(NewMedia("one", "@a:hs", "image/png", None), BLOB, 1000)
    await media.insert_uploaded(NewMedia("two", "@b:hs", "image/png", None), BLOB, 1001)
    thumb = NewThumbnail("one", 32, 32, "crop", False, "image/jpeg")
    await media.add_thumbnail(thumb, OTHER, 1002)
    await media.add_thumbnail(thumb, OTHER, 1003)  # a concurrent duplicate is ignored
    assert len(await media.thumbnails("one")) == 1
    assert sorted(await media.delete_many(["one"])) == sorted([BLOB.ref.blob_id, OTHER.ref.blob_id])
    assert not await media.release_blobs([BLOB.ref.blob_id])  # "two" still uses it
    assert await media.release_blobs([OTHER.ref.blob_id])
    assert await media.delete_many(["two"]) == [BLOB.ref.blob_id]
    assert await media.release_blobs([BLOB.ref.blob_id])
    assert not await media.blob_known(BLOB.ref.blob_id)


async def test_previews_cache(stores: Stores) -> None:
    await stores.media.store_preview("https://a.example/", 1000, '{"og:title": "old"}')
    await stores.media.store_preview("https://a.example/", 2000, '{"og:title": "new"}')
    assert await stores.media.cached_preview("https://a.example/", 500) == '{"og:title": "new"}'
    assert await stores.media.cached_preview("https://a.example/", 2001) is None
    assert await stores.media.purge_previews(1500) == 1


async def test_a_thumbnail_of_a_deleted_item_is_not_recorded(stores: Stores) -> None:
    # A thumbnail finished after its item was deleted (by an admin, or by the retention purge).
    thumb = NewThumbnail("deleted", 32, 32, "crop", False, "image/jpeg")
    assert not await stores.media.add_thumbnail(thumb, OTHER, 1)
    assert await stores.media.thumbnails("deleted") == []
    assert await stores.media.release_blobs([OTHER.ref.blob_id])

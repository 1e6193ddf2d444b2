"""`RemoteMediaStore` on both backends: cached copies of other servers' media and thumbnails,
and the blobs they keep alive."""

from __future__ import annotations

from homeserver.storage.factory import Stores
from homeserver.storage.media.files import BlobRef, StoredBlob
from homeserver.storage.media.remote import NewRemoteMedia, NewRemoteThumbnail

BLOB = StoredBlob(BlobRef("p" + "c" * 64, 30, False), "c" * 64)
OTHER = StoredBlob(BlobRef("e" + "d" * 64, 40, True), "d" * 64)


async def test_the_first_copy_of_an_item_wins(stores: Stores) -> None:
    remote = stores.remote_media
    media = NewRemoteMedia("other.example", "abc", "image/png", "cat.png")
    assert await remote.get("other.example", "abc") is None
    assert await remote.insert(media, BLOB, 1000)
    assert not await remote.insert(media, OTHER, 1001)
    record = await remote.get("other.example", "abc")
    assert record is not None
    assert (record.content_type, record.upload_name, record.blob) == (
        "image/png",
        "cat.png",
        BLOB.ref,
    )
    assert (record.fetched_ts, record.last_access_ts) == (1000, 1000)
    assert await remote.get("elsewhere.example", "abc") is None  # keyed by origin too

    async def last_access() -> int | None:
        found = await remote.get("other.example", "abc")
        return found.last_access_ts if found is not None else None

    await remote.touch("other.example", "abc", 1500, 1000)
    assert await last_access() == 1000  # touched less than a second ago: no write
    await remote.touch("other.example", "abc", 2500, 1000)
    assert await last_access() == 2500


async def test_thumbnails_are_keyed_by_what_was_asked(stores: Stores) -> None:
    remote = stores.remote_media
    thumb = NewRemoteThumbnail("other.example", "abc", 96, 96, "crop", False, "image/jpeg")
    assert await remote.add_thumbnail(thumb, OTHER, 1000)
    assert not await remote.add_thumbnail(thumb, BLOB, 1001)
    found = await remote.thumbnail("other.example", "abc", 96, 96, "crop", False)
    assert found is not None
    assert (found.content_type, found.blob) == ("image/jpeg", OTHER.ref)
    assert await remote.thumbnail("other.example", "abc", 96, 96, "scale", False) is None
    assert await remote.thumbnail("other.example", "abc", 96, 96, "crop", True) is None


async def test_remote_copies_keep_their_blobs(stores: Stores) -> None:
    await stores.remote_media.insert(NewRemoteMedia("o.example", "a", "text/plain", None), BLOB, 1)
    thumb = NewRemoteThumbnail("o.example", "a", 32, 32, "crop", False, "image/png")
    await stores.remote_media.add_thumbnail(thumb, OTHER, 1)
    assert not await stores.media.release_blobs([BLOB.ref.blob_id])
    assert not await stores.media.release_blobs([OTHER.ref.blob_id])
    assert await stores.media.blob_known(BLOB.ref.blob_id)

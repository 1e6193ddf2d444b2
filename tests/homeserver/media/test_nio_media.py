"""matrix-nio as a real client of the content repository, on SQLite and PostgreSQL.

nio uploads through `POST /_matrix/media/v3/upload` and downloads and thumbnails through the
authenticated `/_matrix/client/v1/media` endpoints (with a trailing slash when no file name is
given); every check asserts on nio's own response types.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import nio
import pytest
from nio.api import ResizingMethod
from PIL import Image

from tests.conftest import LiveServer
from tests.homeserver.media import samples

PASSWORD = "correct horse battery staple"
_CONFIG = nio.AsyncClientConfig(
    max_limit_exceeded=0,
    max_timeouts=0,
    request_timeout=120,
    encryption_enabled=False,
    store_sync_tokens=False,
)

FILES = [
    ("photo.png", "image/png", samples.png(640, 480)),
    ("holiday.jpg", "image/jpeg", samples.jpeg_with_gps()),
    ("party.gif", "image/gif", samples.animated_gif()),
    ("sticker.webp", "image/webp", samples.webp()),
    ("voice.wav", "audio/wav", samples.wav()),
    ("clip.mp4", "video/mp4", samples.mp4_like(300_000)),
    ("notes.txt", "text/plain", "naïve notes\n".encode()),
]


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[nio.AsyncClient]:
    """A registered, logged-in nio client."""
    client = nio.AsyncClient(server.url, config=_CONFIG)
    response = await client.register("alice", PASSWORD, device_name="nio media")
    assert isinstance(response, nio.RegisterResponse), response
    yield client
    await client.close()


async def _upload(client: nio.AsyncClient, data: bytes, content_type: str, filename: str) -> str:
    response, keys = await client.upload(
        io.BytesIO(data), content_type=content_type, filename=filename, filesize=len(data)
    )
    assert isinstance(response, nio.UploadResponse), response
    assert keys is None
    uri: str = response.content_uri
    return uri


async def test_nio_uploads_and_downloads_every_kind_of_file(client: nio.AsyncClient) -> None:
    for filename, content_type, data in FILES:
        mxc = await _upload(client, data, content_type, filename)
        assert mxc.startswith("mxc://localhost/")
        response = await client.download(mxc)
        assert isinstance(response, nio.MemoryDownloadResponse), response
        assert response.body == data, filename
        assert response.content_type == content_type
        assert response.filename == filename
        renamed = await client.download(mxc, filename="renamed.bin")
        assert isinstance(renamed, nio.MemoryDownloadResponse), renamed
        assert renamed.filename == "renamed.bin"


async def test_nio_thumbnails(client: nio.AsyncClient) -> None:
    mxc = await _upload(client, samples.png(640, 480), "image/png", "photo.png")
    server_name, media_id = mxc.removeprefix("mxc://").split("/")
    cropped = await client.thumbnail(server_name, media_id, 32, 32, ResizingMethod.crop)
    assert isinstance(cropped, nio.ThumbnailResponse), cropped
    assert Image.open(io.BytesIO(cropped.body)).size == (32, 32)
    scaled = await client.thumbnail(server_name, media_id, 320, 240, ResizingMethod.scale)
    assert isinstance(scaled, nio.ThumbnailResponse), scaled
    assert Image.open(io.BytesIO(scaled.body)).size == (320, 240)
    audio = await _upload(client, samples.wav(), "audio/wav", "voice.wav")
    refused = await client.thumbnail(server_name, audio.rsplit("/", 1)[1], 32, 32)
    assert isinstance(refused, nio.ThumbnailError), refused


async def test_nio_encrypted_attachment_round_trip(client: nio.AsyncClient) -> None:
    # End-to-end encrypted files are opaque bytes to the server (application/octet-stream).
    data = samples.png(100, 100)
    response, keys = await client.upload(
        io.BytesIO(data), content_type="image/png", filename="secret.png", encrypt=True,
        filesize=len(data),
    )  # fmt: skip
    assert isinstance(response, nio.UploadResponse), response
    assert keys is not None
    downloaded = await client.download(response.content_uri)
    assert isinstance(downloaded, nio.MemoryDownloadResponse), downloaded
    assert downloaded.content_type == "application/octet-stream"
    plain = nio.crypto.attachments.decrypt_attachment(
        downloaded.body, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"]
    )
    assert plain == data

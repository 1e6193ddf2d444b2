"""Remote media over authenticated federation media: a user of one server downloads another
server's media through their own server, which fetches it once and serves its copy.

Spec: Server-Server API "Content Repository" (`content_repository.yaml`), Client-Server API
"Content repository" (`authed-content-repo.yaml`, its security considerations).
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import BodyPartReader, MultipartReader
from PIL import Image
from yarl import URL

from homeserver.app import STORES
from homeserver.config_federation import RateLimitConfig
from tests.homeserver.federation.servers import FederatedServer, federation_of, signed_headers
from tests.homeserver.media import samples
from tests.homeserver.media.helpers import LEGACY, download, get, thumbnail, uploaded, user

MEDIA = "/_matrix/federation/v1/media"
CSP = (
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf;"
    " style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"
)


@dataclass
class FederationAnswer:
    """A federation media answer: the multipart parts, or the JSON error."""

    status: int
    content_type: str
    parts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    error: dict[str, Any] = field(default_factory=dict)


async def _federation_get(
    http: aiohttp.ClientSession,
    server: FederatedServer,
    uri: str,
    origin: FederatedServer | None,
) -> FederationAnswer:
    """GET `uri` on `server`'s federation listener, signed by `origin` (unsigned if None)."""
    headers = {"Host": server.name}
    if origin is not None:
        headers |= signed_headers(origin.signing_key, origin.name, server.name, "GET", uri)
    async with http.get(
        URL(server.federation_url + uri, encoded=True),
        headers=headers,
        ssl=server.ca.client_context(),
        server_hostname=server.name,
    ) as resp:
        answer = FederationAnswer(resp.status, resp.headers.get("Content-Type", ""))
        if not answer.content_type.startswith("multipart/"):
            answer.error = await resp.json(content_type=None)
            return answer
        reader = MultipartReader(resp.headers, resp.content)
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            answer.parts.append((dict(part.headers), bytes(await part.read())))
        return answer


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def test_a_remote_file_arrives_intact_and_is_served_from_the_copy_later(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await user(http, hs1.url, "alice")
    bob = await user(http, hs2.url, "bob")
    text = "Grüße, über alles\n".encode() * 100
    doc = await uploaded(http, hs1.url, alice, text, "text/plain; charset=utf-8", "naïve notes.txt")
    image = await uploaded(http, hs1.url, alice, samples.png(), "image/png", "cat.png")
    never_fetched = await uploaded(http, hs1.url, alice, b"<b>hi</b>", "text/html", "page.html")
    assert doc[0] == "hs1.test"

    got = await download(http, hs2.url, bob, doc)
    assert got.status == 200, got.body
    assert got.body == text
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert got.headers["Content-Disposition"] == "inline; filename*=utf-8''na%C3%AFve%20notes.txt"
    assert got.headers["Content-Security-Policy"] == CSP
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    named = await download(http, hs2.url, bob, doc, suffix="/renamed.txt")
    assert named.headers["Content-Disposition"] == 'inline; filename="renamed.txt"'
    ranged = await download(http, hs2.url, bob, doc, headers={"Range": "bytes=0-4"})
    assert (ranged.status, ranged.body) == (206, text[:5])
    original = await download(http, hs2.url, bob, image)
    assert (original.status, original.body) == (200, samples.png())
    thumb = await thumbnail(http, hs2.url, bob, image, 96, 96, "crop")
    assert thumb.status == 200, thumb.body
    assert thumb.headers["Content-Type"] in ("image/png", "image/jpeg")
    assert thumb.headers["Content-Disposition"].startswith("inline")
    assert min(_size(thumb.body)) >= 96

    await hs1.stop()
    again = await download(http, hs2.url, bob, doc)  # hs1 is gone: only the copy can answer
    assert (again.status, again.body) == (200, text)
    assert again.headers["Content-Disposition"] == got.headers["Content-Disposition"]
    cached_thumb = await thumbnail(http, hs2.url, bob, image, 96, 96, "crop")
    assert (cached_thumb.status, cached_thumb.body) == (200, thumb.body)
    # A size never asked of hs1 is rendered here from the copy of the original.
    rendered = await thumbnail(http, hs2.url, bob, image, 320, 240, "scale")
    assert rendered.status == 200, rendered.body
    assert _size(rendered.body) >= (320, 240)
    unreachable = await download(http, hs2.url, bob, never_fetched)
    assert (unreachable.status, unreachable.json()["errcode"]) == (502, "M_UNKNOWN")


async def test_unknown_and_withheld_remote_media_is_not_found(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await user(http, hs1.url, "alice")
    bob = await user(http, hs2.url, "bob")
    media = await uploaded(http, hs1.url, alice, b"some bytes", "application/octet-stream")
    copies = hs2.live.app[STORES].remote_media

    for missing in [("hs1.test", "doesNotExist"), ("hs1.test", "bad.id"), ("bad!server", "x")]:
        got = await download(http, hs2.url, bob, missing)
        assert (got.status, got.json()["errcode"]) == (404, "M_NOT_FOUND"), missing
    unknown_thumb = await thumbnail(http, hs2.url, bob, ("hs1.test", "doesNotExist"), 32, 32)
    assert (unknown_thumb.status, unknown_thumb.json()["errcode"]) == (404, "M_NOT_FOUND")

    refused = await download(http, hs2.url, bob, media, params={"allow_remote": "false"})
    assert (refused.status, refused.json()["errcode"]) == (404, "M_NOT_FOUND")
    legacy = await get(http, f"{hs2.url}{LEGACY}/download/{media[0]}/{media[1]}")
    assert (legacy.status, legacy.json()["errcode"]) == (404, "M_NOT_FOUND")  # frozen
    assert await copies.get(*media) is None  # neither asked hs1
    got = await download(http, hs2.url, bob, media)
    assert (got.status, got.body) == (200, b"some bytes")
    assert await copies.get(*media) is not None
    # Once copied, allow_remote=false is served from the copy.
    local = await download(http, hs2.url, bob, media, params={"allow_remote": "false"})
    assert (local.status, local.body) == (200, b"some bytes")


async def test_the_federation_endpoints_serve_only_our_own_media_to_signed_requests(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await user(http, hs1.url, "alice")
    bob = await user(http, hs2.url, "bob")
    data = samples.png(300, 200)
    _, media_id = await uploaded(http, hs1.url, alice, data, "image/png", "cat.png")
    uri = f"{MEDIA}/download/{media_id}"

    unsigned = await _federation_get(http, hs1, uri, None)
    assert (unsigned.status, unsigned.error["errcode"]) == (401, "M_UNAUTHORIZED")

    answer = await _federation_get(http, hs1, uri, hs2)
    assert answer.status == 200, answer.error
    assert answer.content_type.startswith("multipart/mixed; boundary=")
    assert len(answer.parts) == 2
    (meta_headers, meta), (file_headers, body) = answer.parts
    assert meta_headers["Content-Type"].startswith("application/json")
    assert json.loads(meta) == {}
    assert file_headers["Content-Type"] == "image/png"
    assert file_headers["Content-Disposition"] == 'inline; filename="cat.png"'
    assert body == data

    thumb_uri = f"{MEDIA}/thumbnail/{media_id}?width=64&height=64&method=scale"
    thumb = await _federation_get(http, hs1, thumb_uri, hs2)
    assert thumb.status == 200, thumb.error
    assert thumb.parts[1][0]["Content-Type"] in ("image/png", "image/jpeg")
    assert min(_size(thumb.parts[1][1])) >= 64

    unknown = await _federation_get(http, hs1, f"{MEDIA}/download/nope", hs2)
    assert (unknown.status, unknown.error["errcode"]) == (404, "M_NOT_FOUND")

    # hs2 holds a copy of hs1's media but never serves it to another server.
    got = await download(http, hs2.url, bob, ("hs1.test", media_id))
    assert got.status == 200
    withheld = await _federation_get(http, hs2, uri, hs1)
    assert (withheld.status, withheld.error["errcode"]) == (404, "M_NOT_FOUND")


async def test_concurrent_downloads_share_one_fetch(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with federation_of(backend, tmp_path) as (hs1, hs2):
        await hs1.stop()  # hs1 answers hs2 one authenticated request, no more
        federation = replace(hs1.config.federation, inbound_rate_limit=RateLimitConfig(0.001, 1))
        hs1.config = replace(hs1.config, federation=federation)
        await hs1.restart()
        alice = await user(http, hs1.url, "alice")
        bob = await user(http, hs2.url, "bob")
        data = b"x" * 300_000
        media = await uploaded(http, hs1.url, alice, data)

        results = await asyncio.gather(*(download(http, hs2.url, bob, media) for _ in range(6)))
        assert [(r.status, len(r.body)) for r in results] == [(200, len(data))] * 6
        assert all(r.body == data for r in results)


async def test_remote_media_larger_than_the_upload_limit_is_refused(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    await hs2.stop()
    hs2.config = replace(hs2.config, media=replace(hs2.config.media, max_upload_bytes=4096))
    await hs2.restart()
    alice = await user(http, hs1.url, "alice")
    bob = await user(http, hs2.url, "bob")
    small = await uploaded(http, hs1.url, alice, b"s" * 4096)
    large = await uploaded(http, hs1.url, alice, b"L" * 4097)

    assert (await download(http, hs2.url, bob, small)).status == 200
    got = await download(http, hs2.url, bob, large)
    assert (got.status, got.json()["errcode"]) == (502, "M_TOO_LARGE")
    assert await hs2.live.app[STORES].remote_media.get(*large) is None

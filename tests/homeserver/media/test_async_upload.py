"""Asynchronous uploads: `POST /_matrix/media/v1/create` then `PUT /upload/{serverName}/{mediaId}`.

Spec: `content-repo.yaml` (createContent, uploadContentToMXC) and the `timeout_ms` /
`M_NOT_YET_UPLOADED` behaviour of the download endpoints.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from homeserver.api.http import SERVICES
from homeserver.config import MediaConfig
from tests.conftest import LiveServer, make_config, serving
from tests.homeserver.api.helpers import auth_header
from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.media.helpers import CREATE, download, split_mxc, user
from tests.waiting import wait_for


async def _create(http: aiohttp.ClientSession, base: str, token: str) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{base}{CREATE}", headers=auth_header(token)) as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def _put(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    media: tuple[str, str],
    data: bytes,
    content_type: str = "text/plain",
) -> tuple[int, dict[str, Any]]:
    url = f"{base}/_matrix/media/v3/upload/{media[0]}/{media[1]}"
    headers = {**auth_header(token), "Content-Type": content_type}
    async with http.put(url, data=data, headers=headers, params={"filename": "late.txt"}) as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def test_create_then_upload(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await user(http, server.url, "alice")
        before = int(time.time() * 1000)
        status, created = await _create(http, server.url, token)
        assert status == 200, created
        assert set(created) == {"content_uri", "unused_expires_at"}
        assert created["content_uri"].startswith("mxc://localhost/")
        assert created["unused_expires_at"] >= before + 86_400_000 - 60_000
        media = split_mxc(created["content_uri"])
        assert await _put(http, server.url, token, media, b"hello later") == (200, {})
        got = await download(http, server.url, token, media)
    assert got.status == 200
    assert got.body == b"hello later"
    assert got.headers["Content-Type"] == "text/plain"
    assert got.headers["Content-Disposition"] == 'inline; filename="late.txt"'


async def test_upload_rules(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await user(http, server.url, "alice")
        bob = await user(http, server.url, "bob")
        _, created = await _create(http, server.url, alice)
        media = split_mxc(created["content_uri"])
        other_user = await _put(http, server.url, bob, media, b"mine now")
        first = await _put(http, server.url, alice, media, b"first")
        again = await _put(http, server.url, alice, media, b"second")
        never_created = await _put(http, server.url, alice, ("localhost", "neverCreated1"), b"x")
        remote = await _put(http, server.url, alice, ("example.org", media[1]), b"x")
        got = await download(http, server.url, alice, media)
    assert other_user[0] == 403
    assert other_user[1]["errcode"] == "M_FORBIDDEN"
    assert first == (200, {})
    assert again[0] == 409
    assert again[1]["errcode"] == "M_CANNOT_OVERWRITE_MEDIA"
    for status, body in (never_created, remote):
        assert status == 404
        assert body["errcode"] == "M_NOT_FOUND"
    assert got.body == b"first"


async def test_download_before_upload_times_out_with_504(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await user(http, server.url, "alice")
        _, created = await _create(http, server.url, token)
        media = split_mxc(created["content_uri"])
        started = time.monotonic()
        got = await download(http, server.url, token, media, params={"timeout_ms": "300"})
        waited = time.monotonic() - started
    assert got.status == 504
    assert got.json() == {
        "errcode": "M_NOT_YET_UPLOADED",
        "error": "Content has not yet been uploaded",
    }
    assert waited >= 0.25  # a busy machine only makes it longer


async def test_download_waits_for_the_upload(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await user(http, server.url, "alice")
        _, created = await _create(http, server.url, token)
        media = split_mxc(created["content_uri"])
        waiting = asyncio.create_task(
            download(http, server.url, token, media, params={"timeout_ms": "10000"})
        )
        uploads = server.app[SERVICES].media._uploaded  # media IDs with a download waiting
        await wait_for(lambda: media[1] in uploads, what="the waiting download")
        assert not waiting.done()
        assert (await _put(http, server.url, token, media, b"worth the wait"))[0] == 200
        got = await waiting
    assert got.status == 200
    assert got.body == b"worth the wait"


async def test_unused_ids_expire(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", media=MediaConfig(unused_id_expiry_ms=50))
    clock = FakeClock()
    async with serving(config, clock) as live, aiohttp.ClientSession() as http:
        token = await user(http, live.url, "alice")
        _, first = await _create(http, live.url, token)
        _, second = await _create(http, live.url, token)
        clock.advance(100)
        late = await _put(http, live.url, token, split_mxc(first["content_uri"]), b"too late")
        assert await live.app[SERVICES].media_admin.expire_unused() == 2
        gone = await _put(http, live.url, token, split_mxc(second["content_uri"]), b"x")
        waited = await download(http, live.url, token, split_mxc(second["content_uri"]))
    assert late[0] == 404
    assert late[1]["errcode"] == "M_NOT_FOUND"
    assert gone[0] == 404
    assert waited.status == 404


async def test_pending_uploads_are_limited(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", media=MediaConfig(max_pending_uploads=2))
    async with serving(config) as live, aiohttp.ClientSession() as http:
        token = await user(http, live.url, "alice")
        answers = [await _create(http, live.url, token) for _ in range(3)]
        assert [status for status, _ in answers] == [200, 200, 429]
        assert answers[2][1]["errcode"] == "M_LIMIT_EXCEEDED"
        assert answers[2][1]["retry_after_ms"] > 0
        media = split_mxc(answers[0][1]["content_uri"])
        assert (await _put(http, live.url, token, media, b"done"))[0] == 200
        assert (await _create(http, live.url, token))[0] == 200  # one slot freed

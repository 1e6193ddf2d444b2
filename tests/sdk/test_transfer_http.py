"""Streamed bodies through the I/O shell's retries, against a small scripted HTTP server: an
upload refused with 429 is sent again from the file's first byte, with its Content-Length; a
download answered 500 and then a body is written once, complete."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sdk.http import HttpTransport, RetryPolicy
from sdk.requests import Request
from sdk.transfer import FileSink, FileSource

DATA = os.urandom(600_000)


class Script:
    """Refuses each path's first request, then answers; remembers what it received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lengths: list[str | None] = []
        self.hits = 0

    async def upload(self, request: web.Request) -> web.Response:
        self.hits += 1
        self.lengths.append(request.headers.get("Content-Length"))
        self.bodies.append(await request.read())
        if self.hits == 1:
            body = {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 10}
            return web.json_response(body, status=429)
        return web.json_response({"content_uri": "mxc://example.org/abc"})

    async def download(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.hits == 1:
            return web.json_response({"errcode": "M_UNKNOWN", "error": "boom"}, status=500)
        return web.Response(body=DATA, content_type="application/octet-stream")


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Script, HttpTransport]]:
    script = Script()
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app.router.add_post("/up", script.upload)
    app.router.add_get("/down", script.download)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    transport = HttpTransport(
        str(server.make_url("/")), retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)
    )
    try:
        yield script, transport
    finally:
        await transport.close()
        await server.close()


async def test_retried_upload_streams_the_whole_file_again(
    scripted: tuple[Script, HttpTransport], tmp_path: Path
) -> None:
    script, transport = scripted
    path = tmp_path / "up.bin"
    path.write_bytes(DATA)
    request = Request("POST", "/up", requires_auth=False, content_type="application/pdf")
    body = await transport.json(request, source=FileSource(path))
    assert body == {"content_uri": "mxc://example.org/abc"}
    assert script.bodies == [DATA, DATA]
    assert script.lengths == [str(len(DATA))] * 2


async def test_retried_download_is_written_once(
    scripted: tuple[Script, HttpTransport], tmp_path: Path
) -> None:
    script, transport = scripted
    target = tmp_path / "down.bin"
    sink = FileSink(target)
    request = Request("GET", "/down", requires_auth=False, idempotent=True)
    raw = await transport.send(request, sink=sink)
    await sink.commit()
    assert raw.body == b""
    assert script.hits == 2
    assert target.read_bytes() == DATA
    assert sink.written == len(DATA)

"""Fetching media over authenticated federation media from local TLS servers that answer
well, oddly and with hostile multipart bodies: every answer is parsed strictly and bounded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from federation.errors import FederationError
from federation.ip_policy import IpPolicy
from federation.media import MediaFetcher, MediaTooLargeError, RemoteFile
from tests.federation.conftest import MakeClient
from tests.federation.helpers import StaticResolver, tls_server
from tests.federation.tls import TestCA

REMOTE = "remote.test"
FILES = "files.test"
BOUNDARY = "6b1e2c"
MULTIPART = f"multipart/mixed; boundary={BOUNDARY}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PORT = web.AppKey("port", dict)


def multipart(*parts: tuple[str, bytes], preamble: bytes = b"") -> bytes:
    """A raw multipart body of `(header lines, body)` parts."""
    out = bytearray(preamble)
    for headers, body in parts:
        out += f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + body + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


def answering(body: bytes, content_type: str = MULTIPART, status: int = 200) -> Handler:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, status=status, headers={"Content-Type": content_type})

    return handler


class Received:
    """A `receive` callback that keeps what it read."""

    def __init__(self) -> None:
        self.files: list[tuple[str | None, str | None, bytes]] = []

    async def __call__(self, file: RemoteFile) -> str:
        data = b"".join([chunk async for chunk in file.chunks])
        self.files.append((file.content_type, file.filename, data))
        return "stored"


async def _download(
    ca: TestCA,
    make_client: MakeClient,
    handler: Handler,
    *,
    max_bytes: int = 10_000,
    policy: IpPolicy | None = None,
) -> Received:
    """Serve `handler` as REMOTE (and FILES) and download one media ID from it."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    app[PORT] = {}
    received = Received()
    async with tls_server(app, ca, REMOTE, FILES) as port:
        app[PORT]["port"] = port
        client = make_client(
            overrides={REMOTE: f"127.0.0.1:{port}"},
            resolver=StaticResolver({(FILES, port): ("127.0.0.1", port)}),
            policy=policy,
        )
        result = await MediaFetcher(client).download(
            REMOTE, "abc", max_bytes=max_bytes, timeout_s=10, wait_ms=5000, receive=received
        )
    assert result == "stored"
    return received


async def test_the_media_part_arrives_with_its_type_and_name(
    ca: TestCA, make_client: MakeClient
) -> None:
    seen: list[str] = []
    body = multipart(
        ("Content-Type: application/json", b"{}"),
        (
            "Content-Type: text/plain\r\n"
            "Content-Disposition: attachment; filename*=utf-8''na%C3%AFve.txt",
            b"hello\r\n--not-the-boundary\r\n",
        ),
    )

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        seen.append(request.headers["Authorization"].split(" ", 1)[0])
        return web.Response(body=body, headers={"Content-Type": MULTIPART})

    received = await _download(ca, make_client, handler)
    assert received.files == [("text/plain", "naïve.txt", b"hello\r\n--not-the-boundary\r\n")]
    assert seen == ["/_matrix/federation/v1/media/download/abc?timeout_ms=5000", "X-Matrix"]


async def test_a_location_part_is_followed_within_the_ip_policy(
    ca: TestCA, make_client: MakeClient
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/file":
            headers = {"Content-Disposition": 'inline; filename="cat.png"'}
            return web.Response(body=b"PNG bytes", content_type="image/png", headers=headers)
        location = f"https://{FILES}:{request.app[PORT]['port']}/file"
        body = multipart(("Content-Type: application/json", b"{}"), (f"Location: {location}", b""))
        return web.Response(body=body, headers={"Content-Type": MULTIPART})

    received = await _download(ca, make_client, handler)
    assert received.files == [("image/png", "cat.png", b"PNG bytes")]

    refused = answering(
        multipart(("Content-Type: application/json", b"{}"), ("Location: http://10.1.2.3/x", b""))
    )
    with pytest.raises(FederationError) as info:
        await _download(ca, make_client, refused)
    assert "refused" in info.value.message


async def test_media_beyond_the_limit_is_refused(ca: TestCA, make_client: MakeClient) -> None:
    meta = ("Content-Type: application/json", b"{}")
    declared = answering(multipart(meta, ("Content-Length: 101", b"x" * 101)))
    with pytest.raises(MediaTooLargeError):
        await _download(ca, make_client, declared, max_bytes=100)

    undeclared = answering(multipart(meta, ("Content-Type: text/plain", b"x" * 101)))
    with pytest.raises(MediaTooLargeError):
        await _download(ca, make_client, undeclared, max_bytes=100)

    exact = answering(multipart(meta, ("Content-Type: text/plain", b"x" * 100)))
    received = await _download(ca, make_client, exact, max_bytes=100)
    assert received.files == [("text/plain", None, b"x" * 100)]

    # Framing is bounded too: an endless preamble is no way around the limit.
    preamble = b"filler line\r\n" * 20_000
    padded = answering(multipart(meta, ("", b"x"), preamble=preamble))
    with pytest.raises(MediaTooLargeError):
        await _download(ca, make_client, padded, max_bytes=100)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"errcode": "M_UNKNOWN"}', "application/json"),
        (b"--x\r\n\r\n{}\r\n--x--\r\n", "multipart/mixed"),  # no boundary parameter
        (multipart(("", b"not json"), ("", b"data")), MULTIPART),
        (multipart(("", b"[]"), ("", b"data")), MULTIPART),
        (multipart(("", b"{}" + b" " * 70_000), ("", b"data")), MULTIPART),
        (multipart(("", b"{}")), MULTIPART),  # no media part
        (multipart(("", b"{}"), ("Content-Transfer-Encoding: base64", b"ZGF0YQ==")), MULTIPART),
        (multipart(("", b"{}"), ("Content-Encoding: gzip", b"data")), MULTIPART),
        (multipart(("", b"{}"), (f"Content-Type: {MULTIPART}", b"--6b1e2c--")), MULTIPART),
        (b"garbage without any boundary", MULTIPART),
    ],
)
async def test_malformed_answers_are_federation_errors(
    ca: TestCA, make_client: MakeClient, body: bytes, content_type: str
) -> None:
    with pytest.raises(FederationError) as info:
        await _download(ca, make_client, answering(body, content_type))
    assert not isinstance(info.value, MediaTooLargeError)


async def test_error_statuses_keep_their_errcode(ca: TestCA, make_client: MakeClient) -> None:
    missing = answering(b'{"errcode": "M_NOT_FOUND", "error": "no"}', "application/json", 404)
    with pytest.raises(FederationError) as info:
        await _download(ca, make_client, missing)
    assert (info.value.status, info.value.errcode) == (404, "M_NOT_FOUND")


async def test_thumbnails_ask_for_the_size_and_method(ca: TestCA, make_client: MakeClient) -> None:
    paths: list[str] = []
    body = multipart(("Content-Type: application/json", b"{}"), ("Content-Type: image/png", b"P"))

    async def handler(request: web.Request) -> web.Response:
        paths.append(request.raw_path)
        return web.Response(body=body, headers={"Content-Type": MULTIPART})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    received = Received()
    async with tls_server(app, ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        await MediaFetcher(client).thumbnail(
            REMOTE,
            "abc",
            width=96,
            height=64,
            method="crop",
            animated=False,
            max_bytes=100,
            timeout_s=10,
            wait_ms=0,
            receive=received,
        )
    assert received.files == [("image/png", None, b"P")]
    assert paths == [
        "/_matrix/federation/v1/media/thumbnail/abc"
        "?width=96&height=64&method=crop&animated=false&timeout_ms=0"
    ]

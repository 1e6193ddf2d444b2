"""HTTP framing at the edge: broken requests get Matrix JSON errors, slow bodies are let go.

Driven with raw sockets against a live server, since a well-behaved HTTP client cannot send
these shapes. Spec: Client-Server API "API Standards" (standard error response).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path

import pytest
from aiohttp.http_exceptions import BadHttpMessage, ContentEncodingError, LineTooLong
from aiohttp.web_protocol import RequestPayloadError

from homeserver.api.framing import (
    MAX_REQUEST_LINE_BYTES,
    MatrixServer,
    UnfinishedBodies,
    client_address,
    framing_error,
)
from tests.conftest import LiveServer, make_config, start_server
from tests.waiting import wait_for

LOGIN = "/_matrix/client/v3/login"
WHOAMI = "/_matrix/client/v3/account/whoami"
BODY_HEAD = f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@dataclass
class Answer:
    """One HTTP response read off a raw socket."""

    status: int
    headers: dict[str, str]
    body: dict[str, object]


@asynccontextmanager
async def live(
    database_url: str, tmp_path: Path, **changes: object
) -> AsyncIterator[tuple[LiveServer, MatrixServer, int]]:
    """A live server with `changes` to its config, its connection server and its port."""
    server, runner = await start_server(make_config(database_url, tmp_path / "data", **changes))
    try:
        assert isinstance(runner.server, MatrixServer)
        yield server, runner.server, runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    """Read one response: status line, headers and a JSON body of Content-Length bytes."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    assert headers["content-type"].startswith("application/json"), headers
    raw = await reader.readexactly(int(headers["content-length"]))
    body = json.loads(raw)
    assert isinstance(body, dict)
    assert isinstance(body["errcode"], str)
    assert isinstance(body["error"], str)
    return Answer(status, headers, body)


async def exchange(port: int, raw: bytes) -> Answer:
    """Send `raw` on a fresh connection and read the answer; the server then closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = await read_answer(reader)
        assert await asyncio.wait_for(reader.read(), 30) == b""  # closed after the error
        return answer
    finally:
        writer.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait until `condition()` holds."""
    await wait_for(condition)


PARSER_ERRORS = [
    (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "M_TOO_LARGE"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431, "M_TOO_LARGE"),
    (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
        + b"\r\n",
        431,
        "M_TOO_LARGE",
    ),
    (BODY_HEAD.encode() + b"Content-Length: abc\r\n\r\n", 400, "M_UNKNOWN"),
    (BODY_HEAD.encode() + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, "M_UNKNOWN"),
    (
        BODY_HEAD.encode() + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "M_UNKNOWN",
    ),
    (
        BODY_HEAD.encode() + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n",
        400,
        "M_UNKNOWN",
    ),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "M_UNKNOWN"),
    (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "M_UNKNOWN"),
    (b"GET / HTTP/9.9.9\r\nHost: x\r\n\r\n", 400, "M_UNKNOWN"),
]


async def test_parser_errors_are_matrix_json(server: LiveServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    for raw, status, errcode in PARSER_ERRORS:
        answer = await exchange(port, raw)
        assert answer.status == status, (raw[:60], answer)
        assert answer.body["errcode"] == errcode, (raw[:60], answer)
        assert answer.headers["access-control-allow-origin"] == "*", (raw[:60], answer)
        assert "GET" in answer.headers["access-control-allow-methods"], (raw[:60], answer)


async def test_parser_errors_carry_cors_headers_without_an_origin(
    database_url: str, tmp_path: Path
) -> None:
    changes: dict[str, object] = {"cors_origins": ("https://app.example",)}
    async with live(database_url, tmp_path, **changes) as (_, _c, port):
        raw = b"GET / HTTP/1.1\r\nOrigin: https://app.example\r\nX-Big: " + b"a" * 10_000
        answer = await exchange(port, raw + b"\r\n\r\n")
    assert answer.status == 431
    assert "access-control-allow-origin" not in answer.headers  # the head was never read
    assert "Authorization" in answer.headers["access-control-allow-headers"]


async def test_trickled_head_times_out(database_url: str, tmp_path: Path) -> None:
    async with live(database_url, tmp_path, request_header_timeout_ms=300) as (_, conns, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def trickle() -> None:  # a byte every 20 ms: never a stall, never a whole head
            writer.write(b"GET /_matrix/client/versions HTTP/1.1\r\nX-Slow: ")
            with contextlib.suppress(ConnectionError):
                while not writer.is_closing():
                    writer.write(b"a")
                    await writer.drain()
                    await asyncio.sleep(0.02)

        trickler = asyncio.create_task(trickle())
        try:
            answer = await read_answer(reader)
            assert await asyncio.wait_for(reader.read(), 30) == b""
        finally:
            writer.close()
            await trickler
        await until(lambda: not conns.connections)
    assert (answer.status, answer.body["errcode"]) == (408, "M_UNKNOWN")
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_connection_sending_nothing_is_closed(database_url: str, tmp_path: Path) -> None:
    async with live(database_url, tmp_path, request_header_timeout_ms=200) as (_, conns, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 30) == b""  # closed without an answer
        writer.close()
        await until(lambda: not conns.connections)


async def test_head_clock_stops_once_the_head_arrived(database_url: str, tmp_path: Path) -> None:
    body = json.dumps({"type": "m.login.password", "user": "nobody", "password": "x"}).encode()
    head = BODY_HEAD.encode() + b"Content-Length: %d\r\n\r\n" % len(body)
    changes: dict[str, object] = {"request_header_timeout_ms": 100}
    async with live(database_url, tmp_path, **changes) as (_, _c, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head)
        for start in range(0, len(body), 8):  # the body takes longer than the head may
            writer.write(body[start : start + 8])
            await writer.drain()
            await asyncio.sleep(0.03)
        first = await read_answer(reader)
        writer.write(head + body)  # the same connection serves the next request
        second = await read_answer(reader)
        writer.close()
    assert (first.status, second.status) == (403, 403)


async def test_undecodable_bearer_token_is_unknown(server: LiveServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    raw = f"GET {WHOAMI} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
    for token in (b"\xff\xfe\xfd", b"syt_\xc3\x28", b"\xed\xa0\x80"):
        answer = await exchange(port, raw + b"Authorization: Bearer " + token + b"\r\n\r\n")
        assert (answer.status, answer.body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_body_not_in_its_declared_encoding_is_not_json(server: LiveServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    for encoding in (b"gzip", b"deflate", b"br"):
        raw = BODY_HEAD.encode() + b"Content-Encoding: " + encoding + b"\r\n"
        answer = await exchange(port, raw + b"Content-Length: 7\r\n\r\n{nope!}")
        assert (answer.status, answer.body["errcode"]) == (400, "M_NOT_JSON"), encoding


async def test_bad_chunk_after_the_headers_is_answered(database_url: str, tmp_path: Path) -> None:
    async with live(database_url, tmp_path) as (_, connections, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(BODY_HEAD.encode() + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n")
        await until(lambda: connections.unfinished.count("127.0.0.1") == 1)
        writer.write(b"zz\r\nhi\r\n")
        answer = await read_answer(reader)
        writer.close()
    assert (answer.status, answer.body["errcode"]) == (400, "M_UNKNOWN")


async def test_stalled_body_times_out(database_url: str, tmp_path: Path) -> None:
    async with live(database_url, tmp_path, request_body_timeout_ms=200) as (_, conns, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(BODY_HEAD.encode() + b'Content-Length: 100\r\n\r\n{"type":')
        answer = await read_answer(reader)
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
        await until(lambda: not conns.connections)
        assert conns.unfinished.count("127.0.0.1") == 0
    assert (answer.status, answer.body["errcode"]) == (408, "M_UNKNOWN")


async def test_body_arriving_slowly_but_steadily_is_read(database_url: str, tmp_path: Path) -> None:
    body = json.dumps({"type": "m.login.password", "user": "nobody", "password": "x"}).encode()
    async with live(database_url, tmp_path, request_body_timeout_ms=1000) as (_, _c, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(BODY_HEAD.encode() + b"Content-Length: %d\r\n\r\n" % len(body))
        for start in range(0, len(body), 16):  # each piece well within the stall limit
            writer.write(body[start : start + 16])
            await writer.drain()
            await asyncio.sleep(0.05)
        answer = await read_answer(reader)
        writer.close()
    assert (answer.status, answer.body["errcode"]) == (403, "M_FORBIDDEN")


async def test_unfinished_bodies_per_ip_are_capped(database_url: str, tmp_path: Path) -> None:
    changes: dict[str, object] = {"max_unfinished_bodies_per_ip": 4}
    async with live(database_url, tmp_path, **changes) as (_, conns, port):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        for _, writer in held:
            writer.write(BODY_HEAD.encode() + b"Content-Length: 100\r\n\r\n{")
        await until(lambda: conns.unfinished.count("127.0.0.1") == 4)
        answer = await exchange(port, BODY_HEAD.encode() + b"Content-Length: 100\r\n\r\n{")
        assert (answer.status, answer.body["errcode"]) == (429, "M_LIMIT_EXCEEDED")
        assert int(answer.headers.get("retry-after", "1")) >= 1
        for _, writer in held:
            writer.close()
        await until(lambda: conns.unfinished.count("127.0.0.1") == 0)
        # With the others gone, the next body from that address is read as usual.
        body = b'{"type":"m.login.password","user":"nobody","password":"x"}'
        raw = BODY_HEAD.encode() + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw + body)
        answer = await read_answer(reader)
        writer.close()
    assert answer.status == 403


async def test_many_connections_holding_bodies_are_all_released(
    database_url: str, tmp_path: Path
) -> None:
    changes: dict[str, object] = {"request_body_timeout_ms": 500}
    async with live(database_url, tmp_path, **changes) as (_, conns, port):

        async def hold() -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(BODY_HEAD.encode() + b"Content-Length: 1000\r\n\r\n{")
                answer = await read_answer(reader)
                assert await asyncio.wait_for(reader.read(), 30) == b""
                return answer.status
            finally:
                writer.close()

        statuses = await asyncio.gather(*(hold() for _ in range(500)))
        await until(lambda: not conns.connections)
        assert conns.unfinished.count("127.0.0.1") == 0
    assert set(statuses) == {408, 429}  # the first 32 waited for, the others refused


async def test_client_leaving_mid_body_is_not_an_error(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with live(database_url, tmp_path) as (_, conns, port):
        for _ in range(5):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(BODY_HEAD.encode() + b'Content-Length: 100\r\n\r\n{"type":')
            await writer.drain()
            await until(lambda: conns.unfinished.count("127.0.0.1") == 1)
            writer.close()
            await until(lambda: not conns.connections)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], [r.getMessage() for r in errors]
    assert not [r for r in caplog.records if r.exc_info and "disconnect" in r.getMessage()]


def test_client_address_trusts_forwarded_for_only_from_proxies() -> None:
    proxies = (ip_network("10.0.0.0/8"),)
    assert client_address("10.1.2.3", "203.0.113.7, 10.1.2.3", proxies) == "203.0.113.7"
    assert client_address("192.0.2.1", "203.0.113.7", proxies) == "192.0.2.1"
    assert client_address("10.1.2.3", None, proxies) == "10.1.2.3"
    assert client_address("not an ip", "203.0.113.7", proxies) == "not an ip"
    assert client_address("10.1.2.3", "203.0.113.7", ()) == "10.1.2.3"


def test_framing_errors_map_to_matrix_errors() -> None:
    encoding = RequestPayloadError("bad gzip")
    encoding.__cause__ = ContentEncodingError("Can not decode content-encoding: gzip")
    long_chunk_line = RequestPayloadError("bad chunk")
    long_chunk_line.__cause__ = LineTooLong(b"f" * 100, MAX_REQUEST_LINE_BYTES)
    cases = [
        (framing_error(400, LineTooLong(b"x" * 100, 8190)), 431, "M_TOO_LARGE"),
        (framing_error(400, LineTooLong(b"/" * 100, MAX_REQUEST_LINE_BYTES)), 414, "M_TOO_LARGE"),
        (framing_error(400, long_chunk_line), 400, "M_TOO_LARGE"),
        (framing_error(400, BadHttpMessage("Too many headers received")), 431, "M_TOO_LARGE"),
        (framing_error(400, BadHttpMessage("Invalid header value char")), 400, "M_UNKNOWN"),
        (framing_error(400, encoding), 400, "M_NOT_JSON"),
        (framing_error(400, RequestPayloadError("cut short")), 400, "M_NOT_JSON"),
        (framing_error(504, None), 504, "M_UNKNOWN"),
        (framing_error(500, RuntimeError("bug")), 500, "M_UNKNOWN"),
    ]
    for error, status, errcode in cases:
        assert (error.status, error.errcode) == (status, errcode), error
    assert "\n" not in framing_error(400, BadHttpMessage("Bad chunk:\n\n  b'zz'\n  ^")).message


def test_unfinished_bodies_count_per_ip() -> None:
    bodies = UnfinishedBodies(limit=2)
    assert bodies.acquire("a")
    assert bodies.acquire("a")
    assert not bodies.acquire("a")
    assert bodies.acquire("b")
    bodies.release("a")
    assert bodies.count("a") == 1
    assert bodies.acquire("a")

"""Paths whose percent-encoding is not UTF-8 are refused with 400 `M_INVALID_PARAM` instead of
reaching handlers as U+FFFD; UTF-8 paths work as before. Spec: Client-Server API "API Standards"
(path parameters are UTF-8, percent-encoded)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import aiohttp
import pytest

from homeserver.api.middleware import is_utf8_path
from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT
from tests.homeserver.hardening.helpers import raw_user

BAD_ESCAPES = ["%FF", "%C3", "%C3%28", "%ED%A0%80", "%F8%88%80%80%80"]


@pytest.mark.parametrize("escape", BAD_ESCAPES)
async def test_undecodable_path_parameters_are_invalid(
    server: LiveServer, http: aiohttp.ClientSession, escape: str
) -> None:
    alice = await raw_user(http, server.url, "alice")
    room_id = (await alice.ok("POST", "/createRoom", {}))["room_id"]
    paths = [
        ("GET", f"/profile/@bob{escape}:localhost"),
        ("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/txn{escape}"),
        ("PUT", f"/user/{quote(alice.user_id)}/account_data/x.{escape}"),
        ("GET", f"/rooms/!{escape}:localhost/state"),
        ("GET", f"/directory/room/%23a{escape}:localhost"),
    ]
    for method, path in paths:
        body = {"body": "x"} if method == "PUT" else None
        status, answer = await alice.send(method, path, body)
        assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM"), (path, answer)
    # Nothing was stored under a mangled name.
    sync = await alice.ok("GET", "/sync")
    assert not [e for e in sync["account_data"]["events"] if e["type"].startswith("x.")]


async def test_utf8_path_parameters_still_work(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await raw_user(http, server.url, "alice")
    path = f"/user/{quote(alice.user_id)}/account_data/x.caf%C3%A9"
    await alice.ok("PUT", path, {"v": 1})
    assert await alice.ok("GET", path) == {"v": 1}
    sync = await alice.ok("GET", "/sync")
    assert "x.café" in {e["type"] for e in sync["account_data"]["events"]}


async def test_raw_non_utf8_bytes_in_the_path_are_invalid(server: LiveServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        path = f"{CLIENT}/profile/@b".encode() + b"\xff:localhost"
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = (await asyncio.wait_for(reader.read(), 30)).partition(b"\r\n\r\n")
    finally:
        writer.close()
    status = int(head.split(b" ")[1])
    assert status == 400, head
    assert json.loads(body)["errcode"] in ("M_INVALID_PARAM", "M_UNKNOWN")  # parser or middleware


def test_is_utf8_path() -> None:
    assert is_utf8_path("/a/caf%C3%A9?x=%FF")  # the query is not the path
    assert is_utf8_path("/a/%40b%3Alocalhost")
    assert not is_utf8_path("/a/%FF")
    assert not is_utf8_path("/a/%ED%A0%80")  # an encoded surrogate
    assert not is_utf8_path("/a/\udcff")  # a raw byte kept by the parser as a surrogate

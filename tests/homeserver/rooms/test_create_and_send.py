"""Room creation, membership and sending through the live server, on both backends."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.conftest import LiveServer


async def _register(http: aiohttp.ClientSession, url: str, name: str) -> dict[str, Any]:
    endpoint = f"{url}/_matrix/client/v3/register"
    async with http.post(endpoint, json={"username": name, "password": "pw"}) as resp:
        session = (await resp.json())["session"]
    body = {
        "username": name,
        "password": "pw",
        "auth": {"type": "m.login.dummy", "session": session},
    }
    async with http.post(endpoint, json=body) as resp:
        assert resp.status == 200
        result: dict[str, Any] = await resp.json()
    return result


def _auth(user: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['access_token']}"}


@pytest.mark.parametrize("version", ["10", "11", "12"])
async def test_create_room_invite_join_send(server: LiveServer, version: str) -> None:
    api = f"{server.url}/_matrix/client/v3"
    async with aiohttp.ClientSession() as http:
        alice = await _register(http, server.url, "alice")
        bob = await _register(http, server.url, "bob")
        body = {
            "name": "Chat",
            "topic": "things",
            "invite": [bob["user_id"]],
            "room_alias_name": "chat",
            "room_version": version,
        }
        async with http.post(f"{api}/createRoom", json=body, headers=_auth(alice)) as resp:
            assert resp.status == 200, await resp.text()
            created = await resp.json()
        room_id = created["room_id"]
        assert created["room_alias"] == "#chat:localhost"
        url = f"{api}/rooms/{quote(room_id)}/send/m.room.message/t1"
        message = {"msgtype": "m.text", "body": "hi"}
        async with http.put(url, json=message, headers=_auth(bob)) as resp:
            assert resp.status == 403
            assert (await resp.json())["errcode"] == "M_FORBIDDEN"
        async with http.post(f"{api}/join/%23chat:localhost", json={}, headers=_auth(bob)) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["room_id"] == room_id
        async with http.put(url, json=message, headers=_auth(bob)) as resp:
            assert resp.status == 200, await resp.text()
            first = (await resp.json())["event_id"]
        async with http.put(url, json=message, headers=_auth(bob)) as resp:
            assert (await resp.json())["event_id"] == first
        async with http.get(f"{api}/joined_rooms", headers=_auth(bob)) as resp:
            assert (await resp.json())["joined_rooms"] == [room_id]

"""A raw-bytes client for hostile-input tests: bodies go out exactly as written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.homeserver.api.helpers import CLIENT, auth_header, register

JsonBody = dict[str, Any]
ADMIN = "/_tessera/admin/v1"


@dataclass
class Raw:
    """One registered user speaking raw HTTP to `base`."""

    http: aiohttp.ClientSession
    base: str
    user_id: str
    token: str

    async def send(
        self, method: str, path: str, body: bytes | object = None, *, prefix: str = CLIENT
    ) -> tuple[int, JsonBody]:
        """Send `body` (bytes as is, anything else as JSON); returns status and JSON answer."""
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
        headers = {**auth_header(self.token), "Content-Type": "application/json"}
        url = path if path.startswith("http") else f"{self.base}{prefix}{path}"
        async with self.http.request(method, url, data=data, headers=headers) as resp:
            assert resp.content_type == "application/json", await resp.text()
            return resp.status, await resp.json()

    async def ok(self, method: str, path: str, body: bytes | object = None) -> JsonBody:
        """`send` that must answer 200."""
        status, answer = await self.send(method, path, body)
        assert status == 200, (status, answer)
        return answer

    async def refused(
        self, method: str, path: str, body: bytes | object, status: int, *errcodes: str
    ) -> JsonBody:
        """`send` that must answer `status` with one of `errcodes`."""
        got, answer = await self.send(method, path, body)
        assert got == status, (got, answer)
        assert answer["errcode"] in errcodes, answer
        return answer


async def raw_user(http: aiohttp.ClientSession, base: str, name: str) -> Raw:
    """Register `name` and return its raw client."""
    body = await register(http, base, name)
    return Raw(http, base, body["user_id"], body["access_token"])


def nested(depth: int, leaf: str = "1") -> bytes:
    """A JSON object nested `depth` levels deep: {"a":{"a":...}}."""
    return b'{"a":' * (depth - 1) + b'{"a":' + leaf.encode() + b"}" * depth

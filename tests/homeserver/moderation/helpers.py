"""Helpers for the moderation tests: clients on chosen loopback addresses, an admin, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import aiohttp

from homeserver.app.app_keys import STORES
from tests.conftest import HTTP_TIMEOUT, LiveServer
from tests.homeserver.api.helpers import new_client
from tests.http_client import ApiClient, JsonBody, call

MODERATION = "/_tessera/admin/v1/moderation"
VERSIONS = "/_matrix/client/versions"


@asynccontextmanager
async def from_address(ip: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session whose connections leave from `ip` (any 127.x.y.z is local on Linux)."""
    connector = aiohttp.TCPConnector(local_addr=(ip, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=HTTP_TIMEOUT) as session:
        yield session


async def admin_client(server: LiveServer, http: aiohttp.ClientSession, name: str) -> ApiClient:
    """A registered user with server-admin rights."""
    client = await new_client(http, server.url, name)
    await server.app[STORES].users.set_admin(client.user_id, True)
    return client


async def admin_call(
    admin: ApiClient, method: str, path: str, body: object = None
) -> tuple[int, JsonBody]:
    """A call to the moderation admin API (`path` after `/moderation`)."""
    return await call(
        admin.http, method, f"{admin.base}{MODERATION}{path}", token=admin.token, body=body
    )


async def block(admin: ApiClient, ip: str, **fields: object) -> JsonBody:
    """Block `ip` through the admin API; returns the block."""
    status, body = await admin_call(admin, "POST", "/ip_blocks", {"ip": ip, **fields})
    assert status == 200, body
    return body


async def unblock(admin: ApiClient, ip: str) -> tuple[int, JsonBody]:
    """Lift the block of `ip` through the admin API."""
    return await admin_call(admin, "DELETE", f"/ip_blocks?ip={quote(ip)}")


async def status_from(server: LiveServer, ip: str, path: str = VERSIONS) -> tuple[int, JsonBody]:
    """The status and body of a GET of `path` sent from `ip`."""
    async with from_address(ip) as http:
        return await call(http, "GET", f"{server.url}{path}")

"""Raw-HTTP helpers for the content repository tests.

Each helper takes an `aiohttp.ClientSession` and the server's base URL; downloads return the
status, headers and raw bytes so tests can check exactly what a browser would get.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from homeserver.app import STORES
from tests.conftest import LiveServer
from tests.homeserver.api.helpers import auth_header, register
from tests.waiting import wait_for

UPLOAD = "/_matrix/media/v3/upload"
CREATE = "/_matrix/media/v1/create"
AUTHED = "/_matrix/client/v1/media"
LEGACY = "/_matrix/media/v3"


@dataclass
class Fetched:
    """One HTTP answer: status, headers and body bytes."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> dict[str, Any]:
        import json

        value: dict[str, Any] = json.loads(self.body)
        return value


async def user(http: aiohttp.ClientSession, base: str, name: str) -> str:
    """Register `name`; returns an access token."""
    done = await register(http, base, name)
    token: str = done["access_token"]
    return token


async def upload(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    data: Any,
    content_type: str | None = "application/octet-stream",
    filename: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """`POST /upload`; returns the status and JSON body."""
    headers = auth_header(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    params = {"filename": filename} if filename is not None else None
    async with http.post(f"{base}{UPLOAD}", data=data, headers=headers, params=params) as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def uploaded(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    filename: str | None = None,
) -> tuple[str, str]:
    """Upload and return `(server_name, media_id)`."""
    status, body = await upload(http, base, token, data, content_type, filename)
    assert status == 200, body
    return split_mxc(body["content_uri"])


def split_mxc(mxc: str) -> tuple[str, str]:
    """`(server_name, media_id)` of an `mxc://` URI."""
    assert mxc.startswith("mxc://"), mxc
    server_name, _, media_id = mxc.removeprefix("mxc://").partition("/")
    return server_name, media_id


async def get(
    http: aiohttp.ClientSession,
    url: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Fetched:
    """GET `url`; returns everything about the answer."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers.update(auth_header(token))
    async with http.get(url, headers=all_headers, params=params) as resp:
        return Fetched(resp.status, resp.headers, await resp.read())


async def download(
    http: aiohttp.ClientSession,
    base: str,
    token: str | None,
    media: tuple[str, str],
    *,
    suffix: str = "",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Fetched:
    """The authenticated download of `media` (`suffix` is e.g. `/name.txt`)."""
    server_name, media_id = media
    url = f"{base}{AUTHED}/download/{server_name}/{media_id}{suffix}"
    return await get(http, url, token, headers, params)


async def thumbnail(
    http: aiohttp.ClientSession,
    base: str,
    token: str,
    media: tuple[str, str],
    width: int,
    height: int,
    method: str = "scale",
    **extra: str,
) -> Fetched:
    """The authenticated thumbnail of `media`."""
    server_name, media_id = media
    params = {"width": str(width), "height": str(height), "method": method, **extra}
    url = f"{base}{AUTHED}/thumbnail/{server_name}/{media_id}"
    return await get(http, url, token, params=params)


async def make_admin(server: LiveServer, user_id: str) -> None:
    """Give `user_id` server-admin rights."""
    await server.app[STORES].users.set_admin(user_id, True)


async def wait_for_thumbnails(server: LiveServer, media_id: str, count: int) -> int:
    """Wait until `count` thumbnails of `media_id` are stored; returns how many."""
    found = 0

    async def stored() -> bool:
        nonlocal found
        found = len(await server.app[STORES].media.thumbnails(media_id))
        return found >= count

    await wait_for(stored, what=f"{count} thumbnails")
    return found


def stored_files(data_dir: Path) -> list[Path]:
    """Every blob file in the media store (temporary uploads excluded)."""
    root = data_dir / "media"
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]

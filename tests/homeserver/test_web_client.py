"""The homeserver serves the built web client at `/` beside the API, on a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from homeserver.api.web_client import CONTENT_SECURITY_POLICY, IMMUTABLE, REVALIDATE
from homeserver.config import WebClientConfig
from tests.conftest import HTTP_TIMEOUT, LiveServer, make_config, serving

INDEX = '<!doctype html><html><body><div id="root"></div></body></html>'


def _build(root: Path) -> None:
    """A stand-in for `npm run build` output: an index, a hashed asset and a wasm file."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "assets" / "crypto-def456.wasm").write_bytes(b"\0asm\1\0\0\0")
    (root / "manifest.webmanifest").write_text("{}")
    (root.parent / "secret.txt").write_text("outside")


async def _live(tmp_path: Path, root: Path, *, enabled: bool = True) -> AsyncIterator[LiveServer]:
    config = make_config(
        f"sqlite:///{tmp_path / 'db'}",
        tmp_path / "data",
        web_client=WebClientConfig(enabled=enabled, path=root),
    )
    async with serving(config) as live:
        yield live


@pytest.fixture
async def built(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A live server serving a built client directory."""
    root = tmp_path / "site" / "dist"
    _build(root)
    async for live in _live(tmp_path, root):
        yield live


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP session."""
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        yield session


async def test_root_serves_index_with_csp(built: LiveServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{built.url}/") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert await resp.text() == INDEX
        assert resp.headers["Cache-Control"] == REVALIDATE
        csp = resp.headers["Content-Security-Policy"]
        assert csp == CONTENT_SECURITY_POLICY
        assert "'wasm-unsafe-eval'" in csp
        assert "'unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "")
        assert "'unsafe-inline'" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_client_routes_fall_back_to_index(
    built: LiveServer, http: aiohttp.ClientSession
) -> None:
    for path in ("/rooms/!abc:localhost", "/settings", "/missing.js"):
        async with http.get(f"{built.url}{path}") as resp:
            assert resp.status == 200, path
            assert await resp.text() == INDEX


async def test_hashed_assets_are_cached_for_a_year(
    built: LiveServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{built.url}/assets/index-abc123.js") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/javascript"
        assert resp.headers["Cache-Control"] == IMMUTABLE
    async with http.get(f"{built.url}/assets/crypto-def456.wasm") as resp:
        assert resp.content_type == "application/wasm"
        assert resp.headers["Cache-Control"] == IMMUTABLE
    async with http.get(f"{built.url}/manifest.webmanifest") as resp:
        assert resp.content_type == "application/manifest+json"
        assert resp.headers["Cache-Control"] == REVALIDATE


async def test_api_paths_stay_matrix_errors(built: LiveServer, http: aiohttp.ClientSession) -> None:
    for method, path in (
        ("GET", "/_matrix/client/v3/nope"),
        ("POST", "/_matrix/client/v3/nope"),
        ("GET", "/.well-known/nope"),
        ("POST", "/settings"),
    ):
        async with http.request(method, f"{built.url}{path}") as resp:
            assert resp.status in (404, 405), (method, path)
            assert (await resp.json())["errcode"] == "M_UNRECOGNIZED"
    async with http.get(f"{built.url}/_matrix/client/versions") as resp:
        assert "versions" in await resp.json()


async def test_nothing_outside_the_directory_is_served(
    built: LiveServer, http: aiohttp.ClientSession
) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        async with http.get(f"{built.url}{path}") as resp:
            assert "outside" not in await resp.text(), path


async def test_unbuilt_client_says_how_to_build(tmp_path: Path) -> None:
    async for live in _live(tmp_path, tmp_path / "nowhere"):
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            async with http.get(f"{live.url}/") as resp:
                assert resp.status == 200
                assert "npm run build" in await resp.text()
            async with http.get(f"{live.url}/_matrix/client/versions") as resp:
                assert resp.status == 200


async def test_disabled_client_leaves_root_to_the_api(tmp_path: Path) -> None:
    root = tmp_path / "site" / "dist"
    _build(root)
    async for live in _live(tmp_path, root, enabled=False):
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http, http.get(live.url) as resp:
            assert resp.status == 404
            assert (await resp.json())["errcode"] == "M_UNRECOGNIZED"

"""The homeserver serves exactly the shared endpoint table (`core.endpoints`), with its auth.

Routes are built from the table (`homeserver.api.routing`); these tests check the result from
the outside: the app's routes are the table's templates and variants and nothing else, and on a
live server an endpoint answers `M_MISSING_TOKEN` without an access token exactly when the table
says it requires one.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from core.endpoints import ENDPOINTS, Endpoint
from homeserver.app import build_app
from tests.conftest import make_config, start_server

_PATTERN = re.compile(r"\{(\w+):[^{}]+\}")


def _shown(template: str) -> str:
    """A template as aiohttp shows a route (placeholder patterns dropped)."""
    return _PATTERN.sub(r"{\1}", template)


def _table_routes() -> set[tuple[str, str]]:
    return {
        (e.method, _shown(path)) for e in ENDPOINTS.values() for path in (e.template, *e.variants)
    }


def _server_routes(tmp_path: Path) -> list[tuple[str, str]]:
    app = build_app(make_config(f"sqlite:///{tmp_path / 'db'}", tmp_path / "data"))
    served = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp's automatic twin of each GET
        info = route.get_info()
        served.append((route.method, info.get("formatter") or info.get("path") or ""))
    return served


def test_the_server_serves_the_table_and_nothing_else(tmp_path: Path) -> None:
    served = _server_routes(tmp_path)
    assert len(served) == len(set(served)), "a route is registered twice"
    assert sorted(set(served) - _table_routes()) == []
    assert sorted(_table_routes() - set(served)) == []


def _sample_path(e: Endpoint) -> str:
    values = {name: "@x:localhost" if name == "userId" else "x" for name in e.params}
    return e.path(**values)


async def test_auth_requirement_is_the_tables(tmp_path: Path) -> None:
    live, runner = await start_server(make_config(f"sqlite:///{tmp_path / 'db'}", tmp_path / "d"))
    wrong = []
    try:
        async with aiohttp.ClientSession() as http:
            for name, e in sorted(ENDPOINTS.items()):
                url = live.url + _sample_path(e)
                async with http.request(e.method, url, data=b"{}") as resp:
                    body = await resp.json(content_type=None)
                missing_token = resp.status == 401 and body.get("errcode") == "M_MISSING_TOKEN"
                if missing_token != e.requires_auth:
                    wrong.append((name, resp.status, body.get("errcode")))
    finally:
        await runner.cleanup()
    assert wrong == []

"""Shared fixtures: a fresh database on each backend, and a live homeserver on a free port.

Every storage and API test runs on SQLite and on PostgreSQL. The PostgreSQL server is the real
one at 127.0.0.1:5432 (override with TESSERA_TEST_POSTGRES); each test gets a database of its
own, created here and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from homeserver.app import build_app, make_runner
from homeserver.config import Config, RateLimit, RateLimits

POSTGRES_ADMIN_URL = os.environ.get(
    "TESSERA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'homeserver.db'}"
        return
    name = f"tessera_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


GENEROUS = RateLimit(per_second=1000.0, burst=1000)


def make_config(database_url: str, data_dir: Path, **changes: object) -> Config:
    """A config for tests: registration open, rate limits out of the way."""
    config = Config(
        server_name="localhost",
        data_dir=data_dir,
        database=database_url,
        enable_registration=True,
        rate_limits=RateLimits(
            login=GENEROUS,
            login_failures=GENEROUS,
            registration=GENEROUS,
            message=GENEROUS,
            join=GENEROUS,
        ),
    )
    return replace(config, **changes)  # type: ignore[arg-type]


@dataclass
class LiveServer:
    """A homeserver listening on 127.0.0.1 on a free port."""

    url: str
    config: Config
    app: web.Application


async def start_server(config: Config) -> tuple[LiveServer, web.AppRunner]:
    """Start the real app on a free port."""
    app = build_app(config)
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return LiveServer(url=f"http://127.0.0.1:{port}", config=config, app=app), runner


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A live homeserver on each backend."""
    live, runner = await start_server(make_config(database_url, tmp_path / "data"))
    try:
        yield live
    finally:
        await runner.cleanup()

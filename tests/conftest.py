"""Shared fixtures: a fresh database on each backend, and a live homeserver on a free port.

Every storage and API test runs on SQLite and on PostgreSQL. The PostgreSQL server is the real
one at 127.0.0.1:5432 (override with TESSERA_TEST_POSTGRES); each test gets a database of its
own, created here and dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from homeserver.app import build_app, make_runner
from homeserver.clock import Clock
from homeserver.config import (
    Config,
    RateLimit,
    RateLimits,
    RetentionConfig,
    SearchConfig,
    WebClientConfig,
)
from homeserver.storage.at_rest import AtRestSettings
from homeserver.storage.factory import Stores, open_stores

POSTGRES_ADMIN_URL = os.environ.get(
    "TESSERA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgres")
# Requests in live tests may queue behind a busy machine; only a hung server should trip this.
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=60)


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


@pytest.fixture
async def stores(database_url: str, tmp_path: Path) -> AsyncIterator[Stores]:
    """Migrated stores on each backend, sealing at rest with a fresh master key (a test module
    may override it to add data)."""
    at_rest = AtRestSettings(enabled=True, key_file=tmp_path / "database.key")
    opened = await open_stores(database_url, at_rest=at_rest)
    try:
        yield opened
    finally:
        await opened.close()


GENEROUS = RateLimit(per_second=1000.0, burst=1000)


def make_config(database_url: str, data_dir: Path, **changes: object) -> Config:
    """A config for tests: registration open, rate limits out of the way, no web client, no
    retention policy (self-destructing messages still work)."""
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
        search=SearchConfig(rate_limit=GENEROUS),
        # Off unless a test turns it on: events with fixed old timestamps would expire.
        retention=RetentionConfig(enabled=False),
        web_client=WebClientConfig(enabled=False),
    )
    return replace(config, **changes)  # type: ignore[arg-type]


@dataclass
class LiveServer:
    """A homeserver listening on 127.0.0.1 on a free port."""

    url: str
    config: Config
    app: web.Application


async def start_server(
    config: Config, clock: Clock | None = None
) -> tuple[LiveServer, web.AppRunner]:
    """Start the real app on a free port (on `clock`, the system clock if None)."""
    app = build_app(config, clock)
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return LiveServer(url=f"http://127.0.0.1:{port}", config=config, app=app), runner


@asynccontextmanager
async def serving(config: Config, clock: Clock | None = None) -> AsyncIterator[LiveServer]:
    """A live server with a special configuration (or clock), stopped on exit."""
    live, runner = await start_server(config, clock)
    try:
        yield live
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A live homeserver on each backend."""
    async with serving(make_config(database_url, tmp_path / "data")) as live:
        yield live


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for raw client API calls, patient enough for a loaded machine."""
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as session:
        yield session

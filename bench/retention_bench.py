"""The retention purge measured: how long it takes and whether anything of the purged messages
is left on disk, on SQLite and PostgreSQL.

One in-process server per backend on a fake clock (so a day passes at once), with retention on
(a day's lifetime), search on and media stored in the clear (so the files can be searched for
the text). A user sends `--messages` messages, each with its own marker word, and every tenth
one an attachment whose bytes hold the marker too. Before the purge the bench counts the marker's
occurrences in the database files (SQLite: the file and its WAL; PostgreSQL: `pg_dump` and the
files of the tables that hold content, their TOAST tables and indexes) and in the media store.
Then the clock moves a day, the purge runs (`policy.run_once`: events, search entries,
notifications, media, the light scrub) and the deep scrub after it; both are timed, and the
occurrences counted again. Event JSON is sealed at rest, so before the purge the marker is found
in the search index and in the media files.

Run from the repository root:

    .venv/bin/python -m bench.retention_bench --messages 2000

Writes bench/results/retention.json. Only ever talks to 127.0.0.1 and the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.report import write_json
from bench.servers import REPO
from homeserver.api.http import SERVICES
from homeserver.app import build_app, make_runner
from homeserver.app.app_keys import STORES
from homeserver.config import Config, MediaConfig, RateLimit, RetentionConfig
from tests.conftest import GENEROUS, POSTGRES_ADMIN_URL, make_config
from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.retention.disk import pg_dump, postgres_table_files, sqlite_files
from tests.waiting import wait_for

RESULTS = REPO / "bench" / "results"
DAY = 86_400_000
_TABLES = ("events", "search_fts", "event_media", "notification_actions")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000, help="messages to purge (2000)")
    ap.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    args = ap.parse_args(argv)
    if args.messages < 10:
        ap.error("at least 10 messages")
    return args


async def _count_database(url: str, marker: bytes) -> dict[str, int]:
    if url.startswith("sqlite:"):
        return {str(p.name): p.read_bytes().count(marker) for p in sqlite_files(url)}
    found = {"pg_dump": (await pg_dump(url)).count(marker)}
    for path in await postgres_table_files(url, _TABLES):
        found[path.name] = path.read_bytes().count(marker)
    return found


def _count_media(root: Path, marker: bytes) -> int:
    return sum(p.read_bytes().count(marker) for p in root.rglob("*") if p.is_file())


async def _register(http: aiohttp.ClientSession, base: str, name: str) -> str:
    url = f"{base}/_matrix/client/v3/register"
    body: dict[str, Any] = {"username": name, "password": "bench password 1"}
    async with http.post(url, json=body) as resp:
        session = (await resp.json())["session"]
    body["auth"] = {"type": "m.login.dummy", "session": session}
    async with http.post(url, json=body) as resp:
        return str((await resp.json())["access_token"])


async def _send_all(http: aiohttp.ClientSession, base: str, count: int, marker: str) -> None:
    alice = await _register(http, base, "alice")
    bob = await _register(http, base, "bob")
    auth = {"Authorization": f"Bearer {alice}"}
    async with http.post(
        f"{base}/_matrix/client/v3/createRoom", json={"preset": "public_chat"}, headers=auth
    ) as resp:
        room = (await resp.json())["room_id"]
    async with http.post(
        f"{base}/_matrix/client/v3/join/{room}", json={}, headers={"Authorization": f"Bearer {bob}"}
    ) as resp:
        assert resp.status == 200
    for n in range(count):
        content: dict[str, Any] = {"msgtype": "m.text", "body": f"message {n} {marker}{n}"}
        if n % 10 == 0:
            async with http.post(
                f"{base}/_matrix/media/v3/upload",
                data=f"attachment {marker}{n}".encode(),
                headers={**auth, "Content-Type": "text/plain"},
            ) as resp:
                content = {
                    "msgtype": "m.file",
                    "body": "f.txt",
                    "url": (await resp.json())["content_uri"],
                }
        async with http.put(
            f"{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/t{n}",
            json=content,
            headers=auth,
        ) as resp:
            assert resp.status == 200, await resp.text()


async def _caught_up(app: Any) -> None:
    svc = app[SERVICES]
    head = await app[STORES].room_reads.latest_position()
    await wait_for(
        lambda: (
            min(svc.retention.tracker.position(), svc.search_index.processed_position()) >= head
        ),
        timeout_s=600,
        what="the tracker and the indexer",
    )


async def run_backend(backend: str, messages: int, root: Path) -> dict[str, Any]:
    """Send, purge and count on one backend."""
    url, drop = await _database(backend, root)
    try:
        clock = FakeClock(int(time.time() * 1000))
        config: Config = make_config(url, root / backend)
        config = replace(
            config,
            retention=RetentionConfig(
                default_max_lifetime_ms=DAY, purge_interval_ms=100 * DAY, dm_room_lifetime_ms=None
            ),
            media=MediaConfig(encrypt_at_rest=False, upload_rate=GENEROUS),
            # The limiter runs on the fake clock, which stands still while sending.
            rate_limits=replace(config.rate_limits, message=RateLimit(1000.0, 1_000_000)),
        )
        app = build_app(config, clock)
        runner = make_runner(app)
        await runner.setup()
        from aiohttp import web

        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        marker = "zq" + secrets.token_hex(6)
        try:
            async with aiohttp.ClientSession() as http:
                started = time.monotonic()
                await _send_all(http, base, messages, marker)
                sent_s = time.monotonic() - started
            await _caught_up(app)
            before_db = await _count_database(url, marker.encode())
            before_media = _count_media(config.media_store_dir, marker.encode())
            clock.advance(DAY)
            svc = app[SERVICES].retention
            started = time.monotonic()
            purged = await svc.policy.run_once()
            purge_s = time.monotonic() - started
            started = time.monotonic()
            while svc.purger.deep_scrub_due_in() is not None:
                due = svc.purger.deep_scrub_due_in()
                if due:
                    clock.advance(int(due * 1000))
                await asyncio.sleep(0.01)
            deep_s = time.monotonic() - started
            after_db = await _count_database(url, marker.encode())
            after_media = _count_media(config.media_store_dir, marker.encode())
            stats = await svc.policy.stats()
        finally:
            await runner.cleanup()
        return {
            "messages": messages,
            "attachments": (messages + 9) // 10,
            "send_s": round(sent_s, 2),
            "purged": purged,
            "purge_s": round(purge_s, 3),
            "purge_events_per_s": round(purged / purge_s) if purge_s else None,
            "deep_scrub_wait_s": round(deep_s, 3),
            "marker_occurrences_before": {"database": before_db, "media": before_media},
            "marker_occurrences_after": {"database": after_db, "media": after_media},
            "stats": stats,
        }
    finally:
        await drop()


async def _database(backend: str, root: Path) -> tuple[str, Any]:
    if backend == "sqlite":

        async def nothing() -> None:
            return None

        return f"sqlite:///{root / 'bench.db'}", nothing
    name = f"tessera_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}", drop


async def main(argv: list[str] | None = None) -> None:
    """Run every backend and write the results."""
    args = parse_args(argv)
    results: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            results[backend] = await run_backend(backend, args.messages, Path(tmp))
            print(backend, results[backend])
    write_json(RESULTS / "retention.json", results)


if __name__ == "__main__":
    asyncio.run(main())

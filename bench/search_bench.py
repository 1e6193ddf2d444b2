"""Search benchmark: query latency on 1,000,000 indexed messages, and the index's size.

For each backend (SQLite by default; `--backend postgres` or `both` adds PostgreSQL on
127.0.0.1:5432, in a database of its own that is dropped afterwards):

1. Generates the messages straight into storage (it would take hours through `/send`): a
   migrated database with encryption at rest on (event JSON sealed, as the server writes it), `--rooms` rooms, `--messages` `m.room.message` events spread over them
   (3-25 words each, drawn from a Zipf-distributed vocabulary of synthetic words, so some terms
   are in a fifth of all messages and others in a handful), and two users: `all`, joined to
   every room, and `few`, joined to 10. Push evaluation is marked as done for this history.
2. Indexes them through the search store (`SearchStore.apply`, the indexer's own write path:
   terms from `core.search_text`, batches of 5,000) and reports the rate and the index's size
   on disk (FTS5 pages from `dbstat`, or the `search_*` relations on PostgreSQL) beside the
   events table's. On PostgreSQL it then runs `ANALYZE`, as autovacuum would after such a
   change (without statistics the planner starts from the rooms instead of the GIN index).
3. Times the index query `/search` makes for one page (the match, ordered, 50 candidates, plus
   the count) for term classes: `rare` (~10 messages), `medium` (~1,000), `common` (~1 in 5),
   `two_terms` (medium AND common), `prefix` (the first 4 letters of a medium word), in `rank`
   and `recent` order, for both users; `--queries` different words per class, p50/p99/max.
4. Starts the homeserver on that database, waits for its start-up work (the indexer's first
   pass, the sealing pass) and times `POST /search` end to end over HTTP (visibility,
   serialization, highlights and count included) for a registered user joined to every room.

Results go to `bench/results/search-<backend>.json`; `bench/README.md` ("Search") summarises.

    python -m bench.search_bench [--messages 1000000] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from core.identifiers import RoomId, UserId
from core.search_text import KEY_BODY, parse_query, terms
from homeserver.api.http import SERVICES
from homeserver.app import build_app, make_runner
from homeserver.config import (
    Config,
    RateLimit,
    RateLimits,
    RetentionConfig,
    SearchConfig,
    WebClientConfig,
)
from homeserver.storage.at_rest import AtRestSettings, unsealed_rows_may_exist
from homeserver.storage.factory import Stores, open_stores
from homeserver.storage.sealing import EVENTS_JSON
from homeserver.storage.search.index import FORWARD, Document, MatchQuery

RESULTS = Path(__file__).parent / "results"
POSTGRES_ADMIN = os.environ.get(
    "TESSERA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVER = "bench.test"
ALL_USER = UserId(f"@all:{SERVER}")
FEW_USER = UserId(f"@few:{SERVER}")
FEW_ROOMS = 10
VOCABULARY = 50_000
ZIPF_S = 1.07
BATCH = 5_000
CANDIDATES = 50  # what /search asks the index for per round (limit 10 -> max(2 * 10, 50))
_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def _vocabulary(rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def _messages(
    rng: random.Random, words: Sequence[str], weights: Sequence[float], count: int
) -> list[str]:
    lengths = [rng.randint(3, 25) for _ in range(count)]
    drawn = rng.choices(words, cum_weights=weights, k=sum(lengths))
    out, at = [], 0
    for length in lengths:
        out.append(" ".join(drawn[at : at + length]))
        at += length
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49], 3),
        "p99_ms": round(cuts[98], 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "n": len(ordered),
    }


@asynccontextmanager
async def _database(backend: str, workdir: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'search-bench.db'}"
        return
    name = f"tessera_search_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _generate(stores: Stores, args: argparse.Namespace) -> dict[str, Any]:
    """Rooms, memberships and messages straight into the tables; returns word statistics."""
    rng = random.Random(args.seed)
    words = _vocabulary(rng)
    weights, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank**ZIPF_S
        weights.append(total)
    rooms = [RoomId(f"!room{n}:{SERVER}") for n in range(args.rooms)]
    db, sealer = stores.db, stores.sealer
    now_ms = int(time.time() * 1000)
    await db.execute_many(
        "INSERT INTO rooms (room_id, room_version, creator, is_public, created_ts)"
        " VALUES ($1, '10', $2, 0, 0)",
        [(room, ALL_USER) for room in rooms],
    )
    memberships = [(ALL_USER, room) for room in rooms]
    memberships += [(FEW_USER, room) for room in rooms[:FEW_ROOMS]]
    await _join(stores, memberships)
    started = time.perf_counter()
    for first in range(1, args.messages + 1, BATCH):
        count = min(BATCH, args.messages + 1 - first)
        bodies = _messages(rng, words, weights, count)
        rows = []
        for offset, body in enumerate(bodies):
            n = first + offset
            room = rooms[n % len(rooms)]
            sender = ALL_USER if n % 3 else FEW_USER
            raw = {
                "type": "m.room.message",
                "room_id": room,
                "sender": sender,
                "content": {"msgtype": "m.text", "body": body},
                "origin_server_ts": now_ms - (args.messages - n) * 1000,
                "depth": n,
                "prev_events": [],
                "auth_events": [],
                "hashes": {"sha256": "x"},
                "signatures": {},
            }
            rows.append(
                (
                    f"$b{n}",
                    room,
                    n,
                    n,
                    "m.room.message",
                    None,
                    sender,
                    raw["origin_server_ts"],
                    0,
                    sealer.seal(EVENTS_JSON, (f"$b{n}",), json.dumps(raw, separators=(",", ":"))),
                )
            )
        await db.execute_many(
            "INSERT INTO events (event_id, room_id, stream_ordering, depth, event_type,"
            " state_key, sender, origin_server_ts, state_group, json)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            rows,
        )
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO stream_counters (stream, position) VALUES ('events', $1)"
            " ON CONFLICT (stream) DO UPDATE SET position = excluded.position",
            args.messages,
        )
        await conn.execute(
            "UPDATE notification_progress SET position = $1 WHERE name = 'push'", args.messages
        )
    return {"words": words, "generate_s": round(time.perf_counter() - started, 1)}


async def _join(stores: Stores, pairs: Sequence[tuple[UserId, RoomId]]) -> None:
    await stores.db.execute_many(
        "INSERT INTO memberships (user_id, room_id, membership, event_id, stream_ordering)"
        " VALUES ($1, $2, 'join', $3, 0)",
        [(user, room, f"$join-{user}-{room}") for user, room in pairs],
    )


async def _index(stores: Stores, args: argparse.Namespace) -> dict[str, Any]:
    """Index every generated message through the search store, as the indexer does."""
    started = time.perf_counter()
    for first in range(1, args.messages + 1, BATCH):
        upto = min(first + BATCH - 1, args.messages)
        sources = await stores.search.events_after(first - 1, BATCH)
        documents = [
            Document(s.stream_ordering, s.room_id, KEY_BODY, tuple(terms(s.raw["content"]["body"])))
            for s in sources
            if s.raw is not None
        ]
        await stores.search.apply(documents, [], {FORWARD: upto})
    seconds = time.perf_counter() - started
    return {"index_s": round(seconds, 1), "messages_per_s": round(args.messages / seconds)}


async def _sizes(stores: Stores) -> dict[str, int]:
    db = stores.db
    if db.dialect == "sqlite":
        rows = await db.fetch_all("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name")
        by_name = {str(r["name"]): int(r["bytes"]) for r in rows}
        index = sum(
            v for k, v in by_name.items() if k.startswith(("search_", "sqlite_autoindex_search"))
        )
        events = sum(
            v
            for k, v in by_name.items()
            if k == "events" or k.startswith(("events_", "sqlite_autoindex_events"))
        )
        fts = sum(v for k, v in by_name.items() if k.startswith("search_fts"))
    else:
        index = int(
            await db.fetch_val(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c"
                " WHERE c.relname IN ('search_fts', 'search_entries', 'search_progress', 'search_orphans')"
            )
        )
        fts = int(await db.fetch_val("SELECT pg_total_relation_size('search_fts')"))
        events = int(await db.fetch_val("SELECT pg_total_relation_size('events')"))
    return {"index_bytes": index, "full_text_bytes": fts, "events_table_bytes": events}


def _term_classes(words: Sequence[str], args: argparse.Namespace) -> dict[str, list[str]]:
    """Words of each class, chosen by expected frequency under the Zipf weights."""
    n = args.queries
    weights = [1.0 / rank**ZIPF_S for rank in range(1, len(words) + 1)]
    total_words = args.messages * 14  # mean message length
    scale = total_words / sum(weights)

    def near(messages: float) -> list[str]:
        ranked = sorted(range(len(words)), key=lambda i: abs(weights[i] * scale - messages))
        return [words[i] for i in ranked[:n]]

    common = [words[i] for i in range(min(n, 20))]
    medium = near(args.messages / 1000)
    return {
        "rare": near(10),
        "medium": medium,
        "common": common,
        "two_terms": [f"{m} {common[i % len(common)]}" for i, m in enumerate(medium)],
        "prefix": [m[:4] for m in medium],
    }


async def _query_latency(stores: Stores, classes: dict[str, list[str]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for user_name, user in (("all_rooms", ALL_USER), ("ten_rooms", FEW_USER)):
        for order in ("rank", "recent"):
            for name, terms_ in classes.items():
                search_ms: list[float] = []
                count_ms: list[float] = []
                cpu_ms: list[float] = []
                matches: list[int] = []
                for term in terms_:
                    match = MatchQuery(
                        query=parse_query(term),
                        user_id=user,
                        keys=(KEY_BODY,),
                        recent=order == "recent",
                        limit=CANDIDATES,
                    )
                    cpu = time.process_time()
                    started = time.perf_counter()
                    await stores.search.search(match)
                    search_ms.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    matches.append(await stores.search.count(match))
                    count_ms.append((time.perf_counter() - started) * 1000)
                    cpu_ms.append((time.process_time() - cpu) * 1000)
                total = [s + c for s, c in zip(search_ms, count_ms, strict=True)]
                result: dict[str, Any] = {
                    "page_and_count": _percentiles(total),
                    "page": _percentiles(search_ms),
                    "count": _percentiles(count_ms),
                    # CPU of this process (SQLite runs in it; PostgreSQL in its own server).
                    "process_cpu": _percentiles(cpu_ms),
                    "median_matches": int(statistics.median(matches)),
                }
                results[f"{user_name}/{order}/{name}"] = result
                both, cpu_p50 = result["page_and_count"], result["process_cpu"]["p50_ms"]
                print(
                    f"  {user_name:9} {order:6} {name:9} p50 {both['p50_ms']:8.2f} ms"
                    f"  p99 {both['p99_ms']:8.2f} ms  cpu p50 {cpu_p50:7.2f} ms"
                    f"  matches ~{result['median_matches']}",
                    flush=True,
                )
    return results


def _config(database_url: str, data_dir: Path) -> Config:
    generous = RateLimit(per_second=10_000.0, burst=10_000)
    return Config(
        server_name=SERVER,
        data_dir=data_dir,
        database=database_url,
        enable_registration=True,
        log_level="WARNING",
        rate_limits=replace(RateLimits(), registration=generous),
        search=SearchConfig(rate_limit=generous),
        # The generated history must stay put while it is measured.
        retention=RetentionConfig(enabled=False),
        web_client=WebClientConfig(enabled=False),
    )


async def _settled(app: web.Application, stores: Stores) -> None:
    """Wait for the server's start-up work (the indexer's check of stale entries and its first
    read of the stream, the sealing pass) so it does not run during the measurement."""
    indexer = app[SERVICES].search_index
    head = await stores.room_reads.latest_position()
    for _ in range(6000):
        sealing = await unsealed_rows_may_exist(stores.db)
        if indexer.processed_position() >= head and not sealing:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server's start-up work did not finish")


async def _http_latency(
    database_url: str, workdir: Path, stores: Stores, classes: dict[str, list[str]], rooms: int
) -> dict[str, Any]:
    """`POST /search` end to end on the homeserver serving the generated database."""
    app = build_app(_config(database_url, workdir / "data"))
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/_matrix/client/v3"
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as http:
            body = {
                "username": "searcher",
                "password": secrets.token_urlsafe(12),
                "auth": {"type": "m.login.dummy"},
            }
            async with http.post(f"{base}/register", json=body) as resp:
                registered = await resp.json()
                assert resp.status == 200, registered
            user = UserId(registered["user_id"])
            await _join(stores, [(user, RoomId(f"!room{n}:{SERVER}")) for n in range(rooms)])
            await _settled(app, stores)
            headers = {"Authorization": f"Bearer {registered['access_token']}"}
            for order in ("rank", "recent"):
                for name, terms_ in classes.items():
                    samples: list[float] = []
                    for term in terms_:
                        criteria = {
                            "search_term": term,
                            "order_by": order,
                            "keys": ["content.body"],
                        }
                        request = {"search_categories": {"room_events": criteria}}
                        started = time.perf_counter()
                        async with http.post(
                            f"{base}/search", json=request, headers=headers
                        ) as resp:
                            answer = await resp.json()
                        samples.append((time.perf_counter() - started) * 1000)
                        assert resp.status == 200, answer
                    results[f"{order}/{name}"] = _percentiles(samples)
                    print(
                        f"  http {order:6} {name:9} p50 {results[f'{order}/{name}']['p50_ms']:8.2f} ms  p99 {results[f'{order}/{name}']['p99_ms']:8.2f} ms",
                        flush=True,
                    )
    finally:
        await runner.cleanup()
    return results


async def _one_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        workdir = Path(tmp)
        async with _database(backend, workdir) as url:
            (workdir / "data").mkdir()
            at_rest = AtRestSettings(enabled=True, key_file=workdir / "data" / "database.key")
            stores = await open_stores(url, at_rest=at_rest)
            try:
                print(f"[{backend}] generating {args.messages:,} messages", flush=True)
                generated = await _generate(stores, args)
                print(f"[{backend}] indexing", flush=True)
                indexing = await _index(stores, args)
                if stores.db.dialect == "postgres":
                    # What autovacuum does after a bulk change: the planner needs statistics.
                    await stores.db.execute("ANALYZE")
                print(f"[{backend}] {indexing}", flush=True)
                sizes = await _sizes(stores)
                print(f"[{backend}] sizes {sizes}", flush=True)
                classes = _term_classes(generated["words"], args)
                queries = await _query_latency(stores, classes)
                http_classes = {k: v[: args.http_queries] for k, v in classes.items()}
                http = await _http_latency(url, workdir, stores, http_classes, args.rooms)
            finally:
                await stores.close()
    return {
        "backend": backend,
        "load_average_after": os.getloadavg(),
        "generate_s": generated["generate_s"],
        "indexing": indexing,
        "sizes": sizes,
        "bytes_per_message": {
            "index": round(sizes["index_bytes"] / args.messages, 1),
            "events_table": round(sizes["events_table_bytes"] / args.messages, 1),
        },
        "index_query_ms": queries,
        "http_search_ms": http,
    }


async def run(args: argparse.Namespace) -> list[Path]:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    written = []
    for backend in backends:
        result = await _one_backend(backend, args)
        result["parameters"] = {
            "messages": args.messages,
            "rooms": args.rooms,
            "queries_per_class": args.queries,
            "http_queries_per_class": args.http_queries,
            "seed": args.seed,
            "vocabulary": VOCABULARY,
            "zipf_s": ZIPF_S,
        }
        result["machine"] = {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        }
        path = RESULTS / f"search-{backend}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        written.append(path)
        print(f"[{backend}] wrote {path}", flush=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=100, help="words per term class")
    parser.add_argument("--http-queries", type=int, default=30, help="words per class over HTTP")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

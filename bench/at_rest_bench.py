"""What database encryption at rest costs: the same load with `database_encryption.enabled`
off and on, alternating, and the cost of sealing and opening one event by itself.

Each round starts Tessera twice (off, then on; the order flips every round so drift of a shared
machine hits both alike), each time on a fresh SQLite database, and per run measures:

1. **send**: `--senders` senders back to back for `--duration` s (events persisted per second,
   server CPU per event);
2. **send + sync**: the same while every user long-polls `/sync` (events per second, delivery
   latency);
3. **read**: every user pages back through its room (`GET /messages?dir=b&limit=100`, read
   from the database, so every event is opened) and then makes an initial `/sync` (pages and
   syncs per second).

On a machine shared with other work, throughput and CPU seconds vary between runs by more than
the cost being measured. So while encryption is on, py-spy (if installed in the venv) samples
the server during each phase, and the share of its busy samples inside `storage/sealing.py`
(sealing, opening, the per-value key) is reported as `sealing_share_pct`: it is proportional,
so a busy machine slows both sides alike, and it bounds what switching encryption off could
gain in a CPU-bound server.

Run from the repository root:

    .venv/bin/python -m bench.at_rest_bench --users 200 --senders 50 --duration 20 --rounds 3

Writes bench/results/at-rest.json. Only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from bench.load import SYNC_FILTER, Deliveries, SyncFleet, flood, populate, run_pool, wait_drained
from bench.matrix import MatrixClient, Room, User
from bench.procstats import cpu_seconds
from bench.report import latency_summary, write_json
from bench.servers import REPO, ServerProcess, start_tessera
from homeserver.storage.json_rows import encode_event
from homeserver.storage.sealing import EVENTS_JSON, DatabaseKey, Sealer

RESULTS = REPO / "bench" / "results"
_SETTLE_S = 3.0
# A py-spy frame is "Class.function (path:line)"; these are the ones that seal and open.
_SEALING_FRAME = re.compile(
    r"(?:^|;)(?:Sealer\.(?:seal|open|problem|_unseal|_aead)|_Opened\.(?:get|put)"
    r"|SealedColumn\.associated_data) \([^;]*homeserver/storage/sealing\.py"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--users", type=int, default=200, help="users (default 200)")
    ap.add_argument("--room-size", type=int, default=10, help="members per room (10)")
    ap.add_argument("--senders", type=int, default=50, help="concurrent senders (50)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per send phase (20)")
    ap.add_argument("--rounds", type=int, default=3, help="off/on pairs of runs (3)")
    ap.add_argument("--concurrency", type=int, default=32, help="parallel setup/read requests")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if min(args.users, args.room_size, args.senders, args.rounds) < 1 or args.duration <= 0:
        ap.error("users, room size, senders, rounds and duration must be positive")
    return args


def micro() -> dict[str, float]:
    """Microseconds to seal and to open one `m.room.message` event as the server stores it."""
    pdu = {
        "auth_events": [f"${'a' * 43}", f"${'b' * 43}", f"${'c' * 43}"],
        "content": {"body": "x" * 120, "msgtype": "m.text", "bench_id": "t0-0"},
        "depth": 1234,
        "hashes": {"sha256": "h" * 43},
        "origin_server_ts": 1_760_000_000_000,
        "prev_events": [f"${'d' * 43}"],
        "room_id": "!abcdefghijklmnopqr:localhost",
        "sender": "@bench000001:localhost",
        "signatures": {"localhost": {"ed25519:a_abcd": "s" * 86}},
        "type": "m.room.message",
    }
    text = encode_event(pdu)
    key = DatabaseKey.from_secret(os.urandom(32))
    sealer, cold = Sealer(key), Sealer(key, cache_bytes=0)
    stored = sealer.seal(EVENTS_JSON, ("$event",), text)
    # Rows read back are new string objects, hashed afresh by the cache.
    copies = iter([stored[:-1] + stored[-1] for _ in range(5 * 5_000)])
    rounds = 20_000

    def per_call(fn: Any, number: int = rounds) -> float:
        return round(min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6, 2)

    return {
        "event_bytes": len(text.encode()),
        "stored_bytes": len(stored),
        "seal_us": per_call(lambda: sealer.seal(EVENTS_JSON, ("$event",), text)),
        "open_us": per_call(lambda: cold.open(EVENTS_JSON, ("$event",), stored)),
        "open_cached_us": per_call(
            lambda: sealer.open(EVENTS_JSON, ("$event",), next(copies)), number=5_000
        ),
        "json_loads_us": per_call(lambda: json.loads(text)),
    }


async def _send_phase(
    client: MatrixClient, pid: int, rooms: list[Room], args: argparse.Namespace
) -> dict[str, Any]:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    stats = await flood(client, rooms, args.senders, args.duration, None, random.Random(1))
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
    return {
        "events": stats.ok,
        "errors": dict(stats.errors),
        "events_per_s": round(stats.ok / wall, 1),
        "server_cpu_ms_per_event": round(cpu / max(stats.ok, 1) * 1000, 3),
        **{f"put_{k}": v for k, v in latency_summary(stats.put_latencies).items()},
    }


async def _send_sync_phase(
    client: MatrixClient, pid: int, pop: Any, args: argparse.Namespace
) -> dict[str, Any]:
    deliveries = Deliveries()
    deadline = time.monotonic() + _SETTLE_S + args.duration + 120
    fleet = SyncFleet(client, pop, deliveries, deadline)
    fleet.start()
    try:
        await asyncio.sleep(_SETTLE_S)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        stats = await flood(
            client, pop.rooms, args.senders, args.duration, deliveries, random.Random(2)
        )
        cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
        await wait_drained(deliveries, 30.0)
    finally:
        await fleet.stop()
    return {
        "events": stats.ok,
        "events_per_s": round(stats.ok / wall, 1),
        "server_cpu_ms_per_event": round(cpu / max(stats.ok, 1) * 1000, 3),
        "deliveries": deliveries.expected_total,
        "lost": deliveries.outstanding,
        **{f"delivery_{k}": v for k, v in latency_summary(deliveries.latencies).items()},
    }


async def _read_phase(client: MatrixClient, pid: int, pop: Any, concurrency: int) -> dict[str, Any]:
    room_of = {u.index: r.room_id for r in pop.rooms for u in r.members}

    async def page(user: User) -> int:
        path = f"/_matrix/client/v3/rooms/{quote(room_of[user.index])}/messages"
        params = {"dir": "b", "limit": "100"}
        _, data = await client.call("GET", path, token=user.token, params=params)
        return len(data["chunk"])

    async def sync(user: User) -> None:
        await client.initial_sync(user, SYNC_FILTER)

    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    events = sum(await run_pool(pop.users, page, concurrency, "messages"))
    pages_wall, pages_cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await run_pool(pop.users, sync, concurrency, "initial sync")
    syncs_wall, syncs_cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    users = len(pop.users)
    return {
        "messages_pages_per_s": round(users / pages_wall, 1),
        "events_read": events,
        "server_cpu_ms_per_page": round(pages_cpu / users * 1000, 3),
        "initial_syncs_per_s": round(users / syncs_wall, 1),
        "server_cpu_ms_per_initial_sync": round(syncs_cpu / users * 1000, 3),
    }


class _Sampler:
    """py-spy recording the server during one phase (nothing if py-spy is not installed)."""

    def __init__(self, pid: int, out: Path) -> None:
        self._pid = pid
        self._out = out
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> _Sampler:
        py_spy = Path(sys.executable).parent / "py-spy"
        if py_spy.exists():
            argv = [str(py_spy), "record", "--pid", str(self._pid), "--rate", "100"]
            argv += ["--format", "raw", "--nonblocking", "-o", str(self._out)]
            self._proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
        try:
            await asyncio.wait_for(self._proc.wait(), 60)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()

    def sealing_share(self) -> dict[str, Any] | None:
        """Busy samples, and the percentage of them sealing or opening values (the JSON
        encoding and decoding that `Sealer.dump` and `Sealer.load` wrap is not counted: it was
        there before encryption)."""
        if not self._out.exists():
            return None
        total = sealing = 0
        for line in self._out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            if _SEALING_FRAME.search(stack):
                sealing += int(count)
        share = round(sealing / total * 100, 2) if total else None
        return {"samples": total, "sealing_samples": sealing, "sealing_share_pct": share}


async def _phase(
    name: str, server: ServerProcess, profile_dir: Path | None, result: dict[str, Any], run: Any
) -> None:
    print(f"  {name} ...", flush=True)
    if profile_dir is None:
        result[name] = await run()
        return
    sampler = _Sampler(server.pid, profile_dir / f"{name}.txt")
    async with sampler:
        result[name] = await run()
    result[name]["profile"] = sampler.sealing_share()


async def one_run(workdir: Path, encrypted: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Start Tessera with encryption at rest on or off and run the three phases."""
    extra = {"database_encryption": {"enabled": encrypted}}
    server: ServerProcess = await start_tessera(workdir, extra_config=extra)
    result: dict[str, Any] = {"encrypted": encrypted}
    profile_dir = workdir / "profiles" if encrypted else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    try:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = MatrixClient(server.base_url, session)
            pop = await populate(client, args.users, args.room_size, None, args.concurrency)
            result["setup"] = pop.timings
            await _phase(
                "send",
                server,
                profile_dir,
                result,
                lambda: _send_phase(client, server.pid, pop.rooms, args),
            )
            await _phase(
                "send_sync",
                server,
                profile_dir,
                result,
                lambda: _send_sync_phase(client, server.pid, pop, args),
            )
            await _phase(
                "read",
                server,
                profile_dir,
                result,
                lambda: _read_phase(client, server.pid, pop, args.concurrency),
            )
    finally:
        await server.stop()
    result["events_sealed"] = _sealed_share(workdir / "hs.db")
    return result


def _sealed_share(path: Path) -> float:
    """The share of event rows stored sealed (1.0 with encryption on, 0.0 off)."""
    with sqlite3.connect(path) as db:
        total, sealed = db.execute(
            "SELECT COUNT(*), SUM(substr(json, 1, 8) = 'sealed1:') FROM events"
        ).fetchone()
    return round(int(sealed or 0) / max(int(total), 1), 3)


_METRICS = (
    ("send", "events_per_s", True),
    ("send", "server_cpu_ms_per_event", False),
    ("send_sync", "events_per_s", True),
    ("send_sync", "server_cpu_ms_per_event", False),
    ("send_sync", "delivery_p50_ms", False),
    ("read", "messages_pages_per_s", True),
    ("read", "initial_syncs_per_s", True),
)


def _cost(off: float, on: float, higher_is_better: bool) -> float:
    change = (off - on) / off if higher_is_better else (on - off) / off
    return round(change * 100, 1)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric, the median with encryption off and on and the cost in percent, and the
    median of the costs within each round (its two runs were back to back, so drift of the
    machine affects them alike); per phase, the median share of the encrypted server's busy
    samples spent sealing and opening."""
    summary: dict[str, Any] = {}
    for phase in ("send", "send_sync", "read"):
        shares = [
            r[phase]["profile"]["sealing_share_pct"]
            for r in runs
            if r["encrypted"] and r[phase].get("profile")
        ]
        summary[f"{phase}.sealing_share_pct"] = {
            "median": statistics.median(shares) if shares else None,
            "runs": shares,
        }
    for phase, metric, higher_is_better in _METRICS:
        by_mode = {
            mode: [r[phase][metric] for r in runs if r["encrypted"] == (mode == "on")]
            for mode in ("off", "on")
        }
        off, on = (statistics.median(v) if v else None for v in by_mode.values())
        pairs = {
            r["round"]: {q["encrypted"]: q[phase][metric] for q in runs if q["round"] == r["round"]}
            for r in runs
        }
        paired = [
            _cost(pair[False], pair[True], higher_is_better)
            for pair in pairs.values()
            if pair.get(False) and pair.get(True)
        ]
        summary[f"{phase}.{metric}"] = {
            "off": off,
            "on": on,
            "cost_pct": _cost(off, on, higher_is_better) if off and on else None,
            "paired_cost_pct": statistics.median(paired) if paired else None,
            "paired_costs_pct": paired,
            "off_runs": by_mode["off"],
            "on_runs": by_mode["on"],
        }
    return summary


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Run the rounds and write the result."""
    workdir = Path(tempfile.mkdtemp(prefix="tessera-at-rest-"))
    runs: list[dict[str, Any]] = []
    try:
        for round_no in range(args.rounds):
            order = (False, True) if round_no % 2 == 0 else (True, False)
            for encrypted in order:
                label = f"round {round_no + 1}, encryption {'on' if encrypted else 'off'}"
                print(f"[{label}]", flush=True)
                run_dir = workdir / f"r{round_no}-{'on' if encrypted else 'off'}"
                runs.append({"round": round_no + 1, **await one_run(run_dir, encrypted, args)})
                shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = summarise(runs)
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "loadavg_end": os.getloadavg(),
        "params": vars(args),
        "micro": micro(),
        "summary": summary,
        "runs": runs,
    }
    write_json(RESULTS / "at-rest.json", result)
    for name, row in summary.items():
        if "median" in row:
            print(f"{name:<40} {row['median']}% of the encrypted server's busy samples")
        else:
            print(
                f"{name:<40} off {row['off']!s:>9} on {row['on']!s:>9} cost {row['cost_pct']}%"
                f" (paired by round: {row['paired_cost_pct']}%)"
            )
    print(f"micro: {result['micro']}")
    print(f"wrote {RESULTS / 'at-rest.json'}")
    return result


def main() -> None:
    """Entry point."""
    asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    main()

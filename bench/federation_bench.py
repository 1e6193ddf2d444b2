"""Federation benchmark: two Tessera servers sharing rooms over TLS on loopback.

Starts `hs1.test` and `hs2.test` as `python -m homeserver serve` subprocesses (SQLite, rate
limits raised, logging at WARNING, each in a temporary directory) with a TLS federation
listener whose certificate comes from a throwaway CA (the tests' `TestCA`); each trusts that
CA and finds the other through `resolve_overrides`. Then:

1. **Cross-server delivery.** alice@hs1 makes a room, bob@hs2 joins it over federation and
   keeps a `/sync` long-poll open on hs2. alice sends `--messages` messages one at a time (after
   `--warmup` unmeasured ones); each is timed from just before its `PUT /send` on hs1 to the
   moment bob's sync response holding it is read. One not seen within `LOST_AFTER_S` is lost.
2. **Joining a big remote room.** `--members` users of hs1 join a new public room (registered
   and joined `--concurrency` at a time), then a user of hs2 joins it through hs1: timed until
   `POST /join` returns (make_join, send_join with the room's whole state and auth chain, all
   of it checked and stored on hs2) and until the room is usable (a first message accepted).
   Repeated for `--join-rounds` rooms.

Results: `bench/results/federation.json`; `bench/README.md` ("Federation") summarises them.

    python -m bench.federation_bench [--messages 300] [--members 1000] [--join-rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from bench.matrix import MatrixClient, User
from bench.procstats import cpu_seconds
from bench.report import cdf_points, latency_summary, write_json
from bench.servers import ServerProcess, free_port, start_tessera
from tests.federation.tls import TestCA

RESULTS = Path(__file__).parent / "results" / "federation.json"
LOST_AFTER_S = 10.0
_V3 = "/_matrix/client/v3"
_UNLIMITED = 1_000_000
# Enough timeline for every message a sync can carry here (one at a time is sent).
_FILTER = json.dumps({"room": {"timeline": {"limit": 50}}, "presence": {"types": []}})
_NAMES = ("hs1.test", "hs2.test")


def _federation_section(name: str, ca: TestCA, port: int, peers: dict[str, str]) -> dict[str, Any]:
    cert = ca.issue(name)
    return {
        "federation": {
            "enabled": True,
            "bind": "127.0.0.1",
            "port": port,
            "tls_certificate_path": str(cert.cert_path),
            "tls_private_key_path": str(cert.key_path),
            "ca_certificates_path": str(ca.ca_path),
            "ip_range_allowlist": ["127.0.0.0/8"],
            "resolve_overrides": peers,
            "inbound_rate_limit": {"per_second": _UNLIMITED, "burst": _UNLIMITED},
        },
        "web_client": {"enabled": False},
    }


async def _listening(port: int) -> None:
    for _ in range(600):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on federation port {port}")


async def start_pair(workdir: Path) -> list[ServerProcess]:
    """hs1.test and hs2.test federating with each other, both listening."""
    ca = TestCA(workdir / "ca")
    ports = {name: free_port() for name in _NAMES}
    peers = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    servers = []
    for name in _NAMES:
        extra = _federation_section(name, ca, ports[name], peers)
        servers.append(await start_tessera(workdir / name, server_name=name, extra_config=extra))
        await _listening(ports[name])
    return servers


class Inbox:
    """A user's `/sync` long-poll loop, noting when each bench message is first read."""

    def __init__(self, client: MatrixClient, user: User) -> None:
        self._client = client
        self._user = user
        self.arrivals: dict[str, float] = {}
        self._waiters: dict[str, asyncio.Event] = {}
        self.errors = 0

    def expect(self, bench_id: str) -> asyncio.Event:
        """An event set when the message `bench_id` arrives."""
        return self._waiters.setdefault(bench_id, asyncio.Event())

    async def run(self) -> None:
        """Sync until cancelled."""
        since = (await self._client.initial_sync(self._user, _FILTER))["next_batch"]
        while True:
            params = {"since": since, "timeout": "30000", "filter": _FILTER}
            try:
                status, raw = await self._client.request(
                    "GET", _V3 + "/sync", token=self._user.token, params=params, time_limit=60
                )
            except (aiohttp.ClientError, TimeoutError):
                self.errors += 1
                await asyncio.sleep(0.1)
                continue
            now = time.perf_counter()
            if status != 200:
                self.errors += 1
                await asyncio.sleep(0.1)
                continue
            body = json.loads(raw)
            since = body["next_batch"]
            for room in body.get("rooms", {}).get("join", {}).values():
                for event in room.get("timeline", {}).get("events", []):
                    bench_id = event.get("content", {}).get("bench_id")
                    if isinstance(bench_id, str) and bench_id not in self.arrivals:
                        self.arrivals[bench_id] = now
                        self.expect(bench_id).set()


async def _send(client: MatrixClient, user: User, room_id: str, bench_id: str) -> int:
    body = {"msgtype": "m.text", "body": f"federation bench {bench_id}", "bench_id": bench_id}
    status, _ = await client.request(
        "PUT", client.send_path(room_id, bench_id), token=user.token, body=body
    )
    return status


async def delivery(
    hs1: MatrixClient, hs2: MatrixClient, messages: int, warmup: int, pids: list[int]
) -> dict[str, Any]:
    """Phase 1: one message at a time from hs1 to a long-polling user of hs2."""
    alice = await hs1.register(0, "alice", None)
    bob = await hs2.register(0, "bob", None)
    room_id = await hs1.create_room(alice)
    await hs2.call(
        "POST", f"{_V3}/join/{quote(room_id)}", token=bob.token, body={},
        params={"server_name": _NAMES[0]},
    )  # fmt: skip
    inbox = Inbox(hs2, bob)
    syncing = asyncio.create_task(inbox.run())
    latencies: list[float] = []
    puts: list[float] = []
    lost = 0
    cpu0: list[float] = []
    try:
        for n in range(warmup + messages):
            if n == warmup:
                cpu0 = [cpu_seconds(pid) for pid in pids]
            bench_id = f"m{n}"
            arrived = inbox.expect(bench_id)
            started = time.perf_counter()
            status = await _send(hs1, alice, room_id, bench_id)
            put_done = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"PUT /send answered {status}")
            try:
                await asyncio.wait_for(arrived.wait(), LOST_AFTER_S)
            except TimeoutError:
                lost += n >= warmup
                continue
            if n >= warmup:
                latencies.append(inbox.arrivals[bench_id] - started)
                puts.append(put_done - started)
        cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True)]
    finally:
        syncing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await syncing
    return {
        "server_cpu_ms_per_message": {
            name: round(1000 * c / messages, 2) for name, c in zip(_NAMES, cpu, strict=True)
        },
        "messages": messages,
        "warmup": warmup,
        "lost": lost,
        "sync_errors": inbox.errors,
        "latency": latency_summary(latencies),
        "cdf_ms": cdf_points(latencies),
        "put_latency": latency_summary(puts),
    }


async def _bounded(concurrency: int, jobs: list[Any]) -> list[Any]:
    limit = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with limit:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def big_room_join(
    hs1: MatrixClient, hs2: MatrixClient, members: int, rounds: int, concurrency: int
) -> dict[str, Any]:
    """Phase 2: a user of hs2 joins rooms of `members` users of hs1."""
    setup_started = time.perf_counter()
    users = await _bounded(
        concurrency, [hs1.register(i, f"member{i}", None) for i in range(members)]
    )
    setup = {"register_s": round(time.perf_counter() - setup_started, 2)}
    results = []
    for k in range(rounds):
        creator = users[k % len(users)]
        room_id = await hs1.create_room(creator)
        started = time.perf_counter()
        others = [u for u in users if u is not creator]
        await _bounded(concurrency, [hs1.join(u, room_id) for u in others])
        fill_s = time.perf_counter() - started
        joiner = await hs2.register(k, f"joiner{k}", None)
        started = time.perf_counter()
        await hs2.call(
            "POST", f"{_V3}/join/{quote(room_id)}", token=joiner.token, body={},
            params={"server_name": _NAMES[0]},
        )  # fmt: skip
        joined = time.perf_counter()
        status = await _send(hs2, joiner, room_id, f"join{k}")
        usable = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"the first message after the join answered {status}")
        _, data = await hs2.call(
            "GET", f"{_V3}/rooms/{quote(room_id)}/joined_members", token=joiner.token
        )
        results.append(
            {
                "room_fill_s": round(fill_s, 2),
                "join_ms": round((joined - started) * 1000, 1),
                "usable_ms": round((usable - started) * 1000, 1),
                "joined_members_on_hs2": len(data.get("joined", {})),
            }
        )
        print(f"  join round {k + 1}: {results[-1]}", flush=True)
    return {
        "members": members,
        "setup": setup,
        "rounds": results,
        "join_ms_median": statistics.median(r["join_ms"] for r in results),
        "usable_ms_median": statistics.median(r["usable_ms"] for r in results),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases; the servers are always stopped."""
    with tempfile.TemporaryDirectory(prefix="tessera-fedbench-") as tmp:
        workdir = args.keep_workdir or Path(tmp)
        servers = await start_pair(workdir)
        cpu0 = [cpu_seconds(s.pid) for s in servers]
        result: dict[str, Any] = {"server_version": servers[0].version}
        try:
            timeout = aiohttp.ClientTimeout(total=None)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                hs1, hs2 = (MatrixClient(s.base_url, session) for s in servers)
                print("delivery ...", flush=True)
                result["delivery"] = await delivery(
                    hs1, hs2, args.messages, args.warmup, [s.pid for s in servers]
                )
                print(f"  {result['delivery']['latency']}", flush=True)
                print("joining a big remote room ...", flush=True)
                result["join"] = await big_room_join(
                    hs1, hs2, args.members, args.join_rounds, args.concurrency
                )
            result["server_cpu_s"] = {
                name: round(cpu_seconds(s.pid) - c, 2)
                for name, s, c in zip(_NAMES, servers, cpu0, strict=True)
            }
        finally:
            for server in servers:
                await server.stop()
    return result


def main() -> None:
    """Parse the options, run, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--join-rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--keep-workdir", type=Path, default=None, help="run in this directory and keep it"
    )
    args = parser.parse_args()
    started = time.time()
    result = asyncio.run(run(args))
    result["parameters"] = {
        k: v for k, v in vars(args).items() if k not in ("out", "keep_workdir")
    }  # fmt: skip
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    result["wall_s"] = round(time.time() - started, 1)
    write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("delivery", "join")}, indent=1)[:3000])
    print(f"written {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

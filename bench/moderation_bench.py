"""The moderation bot's training data and its evaluation, from simulated traffic on a live
Tessera (`bench/moderation_sim.py`).

    python -m bench.moderation_bench train      # seeds 1-5: bots/moderation/training_data.json.gz
    python -m bench.moderation_bench evaluate   # seeds 21, 22, 23: bench/results/moderation.json

Each run starts a homeserver process (SQLite, default rate limits, registration open), sets the
simulated world up (accounts registered from set-up addresses of their own), then records the
telemetry stream (the admin API's long poll) while the simulator runs. Captures are kept in
`data/moderation-captures/` and reused.

Training replays a capture through the bot's feature windows and takes, labelled, exactly the
rows the detector would score (each tick, every IP with news and three requests or more); the
flag threshold is the highest out-of-fold score (folds grouped by IP) of any benign row plus a
margin, within [0.95, 0.99].
Evaluation replays the held-out runs through the bot's detector exactly as it runs live (ticks
every 0.5 s of record time) and, on the same records, a fail2ban-style baseline (5 failed logins
or 120 requests from one IP in 60 s); it reports precision and recall of abusive IPs per
category, benign IPs flagged, the time from an attacker's first request to its flag, and the
detector's CPU time per record.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from bench.moderation_sim import ATTACKS, Actor, simulate
from bench.servers import REPO, ServerProcess, start_tessera
from bots.moderation.detector import MIN_REQUESTS, Detector
from bots.moderation.features import FEATURES, IpWindow
from bots.moderation.model import DATA_FILE, Scorer, TrainingSet, fit, new_model
from homeserver.config import RateLimits

CAPTURES = REPO / "data" / "moderation-captures"
RESULTS = REPO / "bench" / "results" / "moderation.json"
TRAIN_SEEDS = (1, 2, 3, 4, 5)
EVAL_SEEDS = (21, 22, 23)
DURATION_S = 150.0
_MARGIN = 0.02
_FLOOR, _CEILING = 0.95, 0.99  # very few false positives: never below 0.95
_TICK_S = 0.5
_ADMIN = "moderation-bench-admin"


_RATE_LIMITS = {
    name: {"per_second": limit.per_second, "burst": limit.burst}
    for name, limit in (
        (f.name, getattr(RateLimits(), f.name)) for f in dataclasses.fields(RateLimits)
    )
}


async def _admin_token(server: ServerProcess, workdir: Path) -> str:
    """An admin account made with the CLI, logged in over HTTP."""
    password = "bench admin password"  # noqa: S105 (a throwaway server)
    argv = [sys.executable, "-m", "homeserver", "register-user", _ADMIN, "--admin"]
    argv += ["--password", password, "--config", str(workdir / "tessera.yaml")]
    argv += ["--data-dir", str(workdir), "--database", f"sqlite:///{workdir / 'hs.db'}"]
    done = await asyncio.to_thread(
        subprocess.run, argv, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    body = {"type": "m.login.password", "user": _ADMIN, "password": password}
    url = f"{server.base_url}/_matrix/client/v3/login"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        return str((await resp.json())["access_token"])


async def _registered(base: str, index: int, localpart: str, password: str) -> tuple[str, str]:
    """An account registered over HTTP from a set-up address of its own (registration is
    rate-limited per address; set-up happens before the capture starts)."""
    connector = aiohttp.TCPConnector(local_addr=(f"127.250.{index // 250}.{index % 250 + 1}", 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        url = f"{base}/_matrix/client/v3/register"
        body: dict[str, Any] = {"username": localpart, "password": password}
        async with http.post(url, json=body) as resp:
            session = (await resp.json())["session"]
        body["auth"] = {"type": "m.login.dummy", "session": session}
        async with http.post(url, json=body) as resp:
            done = await resp.json()
    return str(done["user_id"]), str(done["access_token"])


async def capture(
    seed: int, duration_s: float = DURATION_S
) -> tuple[list[Actor], list[dict[str, Any]]]:
    """One simulated run against a server process of its own: the actors and every telemetry
    record of the run (set-up excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        extra = {"rate_limits": _RATE_LIMITS, "retention": {"enabled": False}}
        extra["web_client"] = {"enabled": False}
        server = await start_tessera(workdir, extra_config=extra)
        try:
            token = await _admin_token(server, workdir)
            records: list[dict[str, Any]] = []
            url = f"{server.base_url}/_tessera/admin/v1/moderation/events"
            headers = {"Authorization": f"Bearer {token}"}
            since: list[int] = []
            ready = asyncio.Event()
            accounts = itertools.count()

            async def make_account(localpart: str, password: str) -> tuple[str, str]:
                return await _registered(server.base_url, next(accounts), localpart, password)

            async with aiohttp.ClientSession() as http:

                async def started() -> None:
                    query = {"since": str(2**53 - 1), "limit": "1"}
                    async with http.get(url, params=query, headers=headers) as resp:
                        since.append(int((await resp.json())["next_token"]))
                    ready.set()

                async def read() -> None:
                    await ready.wait()
                    token = since[0]
                    while True:
                        params = {"since": str(token), "timeout": "5000", "limit": "1000"}
                        async with http.get(url, params=params, headers=headers) as resp:
                            page = await resp.json()
                        records.extend(page["events"])
                        token = page["next_token"]

                reader = asyncio.create_task(read())
                actors = await simulate(
                    server.base_url, "localhost", seed, duration_s, make_account, started=started
                )
                await asyncio.sleep(1.0)
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        finally:
            await server.stop()
    return actors, records


async def load_capture(seed: int, duration_s: float) -> tuple[list[Actor], list[dict[str, Any]]]:
    """A capture from `CAPTURES`, made first if missing."""
    path = CAPTURES / f"seed-{seed}-{int(duration_s)}s.json.gz"
    if not path.exists():
        started = time.monotonic()
        actors, records = await capture(seed, duration_s)
        CAPTURES.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump({"actors": [asdict(a) for a in actors], "records": records}, handle)
        print(f"captured seed {seed}: {len(records)} records in {time.monotonic() - started:.0f} s")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    return [Actor(**a) for a in data["actors"]], data["records"]


def labelled_rows(
    actors: list[Actor], records: list[dict[str, Any]], run: str
) -> tuple[list[list[float]], list[int], list[str], list[str]]:
    """The rows the detector would score on this stream (every tick, each IP with news and
    enough requests), each labelled by the actor behind the IP."""
    by_ip = {a.ip: a for a in actors}
    windows: dict[str, IpWindow] = {}
    dirty: set[str] = set()
    rows, labels, groups, categories = [], [], [], []
    next_tick: float | None = None

    def tick() -> None:
        for ip in sorted(dirty):
            window, actor = windows[ip], by_ip[ip]
            if window.seen >= MIN_REQUESTS:
                rows.append(window.features())
                labels.append(actor.label)
                groups.append(f"{run}/{ip}")
                categories.append(actor.category)
        dirty.clear()

    for record in records:
        ts = record["ts"] / 1000
        if next_tick is None:
            next_tick = ts + _TICK_S
        if ts >= next_tick:
            tick()
            next_tick = ts + _TICK_S
        actor = by_ip.get(record["ip"])
        if actor is None:
            continue
        windows.setdefault(actor.ip, IpWindow(actor.ip)).add(record)
        dirty.add(actor.ip)
    tick()
    return rows, labels, groups, categories


async def train(seeds: tuple[int, ...], duration_s: float) -> None:
    """Build the committed training set from the training seeds."""
    rows: list[list[float]] = []
    labels: list[int] = []
    groups: list[str] = []
    for seed in seeds:
        actors, records = await load_capture(seed, duration_s)
        r, y, g, _ = labelled_rows(actors, records, f"seed{seed}")
        rows, labels, groups = rows + r, labels + y, groups + g
    x, y_arr = np.asarray(rows), np.asarray(labels)
    oof = np.zeros(len(rows))
    with threadpool_limits(1):
        for fit_idx, test_idx in GroupKFold(n_splits=4).split(x, y_arr, groups):
            model = new_model().fit(x[fit_idx], y_arr[fit_idx])
            oof[test_idx] = model.predict_proba(x[test_idx])[:, 1]
    benign_max = float(oof[y_arr == 0].max()) if (y_arr == 0).any() else 0.5
    threshold = round(min(_CEILING, max(_FLOOR, benign_max + _MARGIN)), 3)
    data = {
        "features": list(FEATURES),
        "rows": [[round(v, 4) for v in row] for row in rows],
        "labels": labels,
        "groups": groups,
        "threshold": threshold,
        "meta": {"seeds": list(seeds), "duration_s": duration_s, "benign_oof_max": benign_max},
    }
    with gzip.open(DATA_FILE, "wt", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
    print(f"{len(rows)} rows ({sum(labels)} abusive), threshold {threshold} -> {DATA_FILE}")


def baseline_flags(records: list[dict[str, Any]]) -> dict[str, float]:
    """fail2ban-style: 5 failed logins or 120 requests from one IP within 60 s."""
    requests: dict[str, deque[float]] = defaultdict(deque)
    failures: dict[str, deque[float]] = defaultdict(deque)
    flagged: dict[str, float] = {}
    for record in records:
        ip, ts = record["ip"], record["ts"] / 1000
        if ip in flagged:
            continue
        requests[ip].append(ts)
        signal = record.get("signal") or {}
        if signal.get("kind") == "login" and not signal.get("ok"):
            failures[ip].append(ts)
        for queue in (requests[ip], failures[ip]):
            while queue and queue[0] < ts - 60:
                queue.popleft()
        if len(failures[ip]) >= 5 or len(requests[ip]) >= 120:
            flagged[ip] = ts
    return flagged


def detector_flags(scorer: Scorer, records: list[dict[str, Any]]) -> tuple[dict[str, float], float]:
    """The bot's flags on a replayed stream, and its CPU seconds per record (detector and JSON
    decoding of the stream's pages)."""
    detector = Detector(scorer)
    flagged: dict[str, float] = {}
    next_tick = None
    cpu = time.process_time()
    for record in records:
        ts = record["ts"] / 1000
        detector.observe(record)
        if next_tick is None:
            next_tick = ts + _TICK_S
        if ts >= next_tick:
            for flag in detector.tick(ts):
                flagged[flag.ip] = ts
            next_tick = ts + _TICK_S
    for flag in detector.tick():
        flagged[flag.ip] = records[-1]["ts"] / 1000
    cpu = time.process_time() - cpu
    # What the live bot spends besides: decoding the stream's JSON pages.
    pages = [json.dumps({"events": records[i : i + 1000]}) for i in range(0, len(records), 1000)]
    decode = time.process_time()
    for page in pages:
        json.loads(page)
    cpu += time.process_time() - decode
    return flagged, cpu / max(1, len(records))


def score_run(
    actors: list[Actor], records: list[dict[str, Any]], flagged: dict[str, float]
) -> dict[str, Any]:
    """Per category: IPs, flagged, times to flag; overall precision and recall."""
    first: dict[str, float] = {}
    for record in records:
        first.setdefault(record["ip"], record["ts"] / 1000)
    per: dict[str, dict[str, Any]] = {}
    for actor in actors:
        entry = per.setdefault(
            actor.category, {"ips": 0, "flagged": 0, "ttf": [], "label": actor.label}
        )
        if actor.ip not in first:
            continue
        entry["ips"] += 1
        if actor.ip in flagged:
            entry["flagged"] += 1
            entry["ttf"].append(flagged[actor.ip] - first[actor.ip])
    return per


def summarise(per_runs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Runs added up: per category and overall."""
    total: dict[str, dict[str, Any]] = {}
    for per in per_runs:
        for category, entry in per.items():
            t = total.setdefault(
                category, {"ips": 0, "flagged": 0, "ttf": [], "label": entry["label"]}
            )
            t["ips"] += entry["ips"]
            t["flagged"] += entry["flagged"]
            t["ttf"] += entry["ttf"]
    abusive = [t for t in total.values() if t["label"] == 1]
    benign = [t for t in total.values() if t["label"] == 0]
    tp = sum(t["flagged"] for t in abusive)
    fp = sum(t["flagged"] for t in benign)
    positives = sum(t["ips"] for t in abusive)
    ttf = [v for t in abusive for v in t["ttf"]]
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / positives, 4) if positives else None,
        "benign_ips": sum(t["ips"] for t in benign),
        "benign_flagged": fp,
        "median_time_to_flag_s": round(statistics.median(ttf), 2) if ttf else None,
        "p90_time_to_flag_s": round(float(np.percentile(ttf, 90)), 2) if ttf else None,
        "per_category": {
            c: {
                "ips": t["ips"],
                "flagged": t["flagged"],
                "median_time_to_flag_s": round(statistics.median(t["ttf"]), 2)
                if t["ttf"]
                else None,
            }
            for c, t in sorted(total.items())
        },
    }


async def evaluate(seeds: tuple[int, ...], duration_s: float) -> None:
    """Score the bot and the baseline on held-out runs; write `RESULTS`."""
    from bots.moderation.model import load_training_set

    started = time.monotonic()
    training: TrainingSet = load_training_set()
    scorer = fit(training)
    fit_s = time.monotonic() - started
    bot_runs, base_runs, costs, rates = [], [], [], []
    for seed in seeds:
        actors, records = await load_capture(seed, duration_s)
        flagged, cost = detector_flags(scorer, records)
        costs.append(cost)
        span = (records[-1]["ts"] - records[0]["ts"]) / 1000 if records else 1.0
        rates.append(len(records) / max(span, 1.0))
        bot_runs.append(score_run(actors, records, flagged))
        base_runs.append(score_run(actors, records, baseline_flags(records)))
    cost = statistics.mean(costs)
    result = {
        "seeds": list(seeds),
        "duration_s": duration_s,
        "training": training.meta | {"rows": len(training.rows), "threshold": training.threshold},
        "fit_seconds": round(fit_s, 2),
        "telemetry_rate_per_s": round(statistics.mean(rates), 1),
        "detector_cpu_ms_per_record": round(cost * 1000, 4),
        "detector_core_share_at_200_rps": round(cost * 200, 4),
        "bot": summarise(bot_runs),
        "baseline_fail2ban": summarise(base_runs),
        "categories": list(ATTACKS),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("bot", "baseline_fail2ban")}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.moderation_bench")
    parser.add_argument("command", choices=("train", "evaluate", "capture"))
    parser.add_argument("--seeds", type=int, nargs="*")
    parser.add_argument("--duration", type=float, default=DURATION_S)
    args = parser.parse_args()
    if args.command == "train":
        asyncio.run(train(tuple(args.seeds or TRAIN_SEEDS), args.duration))
    elif args.command == "evaluate":
        asyncio.run(evaluate(tuple(args.seeds or EVAL_SEEDS), args.duration))
    else:
        for seed in args.seeds or (*TRAIN_SEEDS, *EVAL_SEEDS):
            asyncio.run(load_capture(seed, args.duration))


if __name__ == "__main__":
    main()

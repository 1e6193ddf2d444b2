"""Fixtures of the fuzz suite: one fuzzed server per backend for the whole session, and its report.

The server of each backend starts once, gets its world, and takes every fuzz test of that backend
(pytest groups the tests by the session-scoped backend parameter). At the end the terminal summary
shows, per backend, the request count, the status histogram, the 5xx count and the distinct bad
answers; with `FUZZ_REPORT=path` the same goes to a JSON file (`make fuzz` writes
`bench/results/fuzz.json`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.fuzz.harness import Client, ServerLog, ServerThread, Tally
from tests.fuzz.session import EXAMPLES, Fuzz
from tests.fuzz.world import build_world

TALLIES = pytest.StashKey[list[Tally]]()


@pytest.fixture(scope="session", params=BACKENDS)
def fuzz_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzz]:
    """A live homeserver on one backend with its prepared world."""
    backend = str(request.param)
    tally = Tally(backend)
    request.config.stash.setdefault(TALLIES, []).append(tally)
    log = ServerLog()
    logging.getLogger().addHandler(log)
    server = ServerThread(backend, tmp_path_factory.mktemp(f"fuzz-{backend}"))
    server.start()
    try:
        client = Client(server.port, tally, log)
        yield Fuzz(client, build_world(client), tally)
    finally:
        server.stop()
        logging.getLogger().removeHandler(log)


@pytest.fixture
def fuzz(fuzz_session: Fuzz) -> Fuzz:
    """The fuzz session of the current backend."""
    return fuzz_session


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print each backend's request count, status histogram and distinct bad answers."""
    tallies = terminalreporter.config.stash.get(TALLIES, [])
    if not tallies:
        return
    terminalreporter.section("fuzz summary")
    for tally in tallies:
        histogram = ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items()))
        terminalreporter.write_line(
            f"{tally.backend}: {tally.requests} requests, 5xx: {tally.server_errors()}, "
            f"distinct bad answers: {len(tally.distinct())}, server errors logged: "
            f"{tally.logged_errors}; statuses {{{histogram}}}"
        )
        for item in tally.distinct():
            terminalreporter.write_line(
                f"  {item.case} [{item.mutation}] -> {item.problem} | {item.server_log[:300]}"
            )
    report = os.environ.get("FUZZ_REPORT")
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(json.dumps(_report(tallies), indent=2) + "\n")


def _report(tallies: list[Tally]) -> dict[str, object]:
    return {
        "examples_per_endpoint_and_family": EXAMPLES,
        "backends": {
            t.backend: {
                "requests": t.requests,
                "statuses": dict(sorted(t.statuses.items())),
                "server_errors_5xx": t.server_errors(),
                "server_errors_logged": t.logged_errors,
                "distinct_bad_answers": [
                    {
                        "case": f.case,
                        "mutation": f.mutation,
                        "status": f.status,
                        "problem": f.problem,
                        "server_log": f.server_log[:500],
                    }
                    for f in t.distinct()
                ],
            }
            for t in tallies
        },
    }

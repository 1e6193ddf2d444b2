"""The fuzz harness: a live homeserver in a thread of its own, a raw HTTP client, and a tally.

The server runs the real app (`tests.conftest.start_server`) on its own event loop in a
background thread, so hypothesis drives plain synchronous tests. Every request goes out on a
fresh socket as raw bytes (nothing is normalised on the way), and every answer is judged the same
way: no 5xx, no missing answer, and every error is a JSON object with an `errcode`. Judgements,
status counts and the exceptions the server logged while a request was in flight are kept in a
`Tally`, which the fuzz conftest turns into the run's summary and findings.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from tests.conftest import POSTGRES_ADMIN_URL, make_config, start_server

TIMEOUT = 60.0
"""Seconds to wait for an answer; generous, a busy machine is not a failure."""
BODY_TIMEOUT_MS = 1_500
"""The fuzzed server's body read timeout, so bodies that never complete are answered soon."""


@dataclass(frozen=True)
class Answer:
    """What came back: the status (None if nothing did), headers and body."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Finding:
    """One bad answer: where, with what, what came back and what the server logged."""

    case: str
    mutation: str
    status: int | None
    problem: str
    server_log: str

    def key(self) -> tuple[str, str, int | None, str]:
        """Identity of a distinct failure (the mutation's kind, not its bytes)."""
        return (self.case, self.mutation.split(":", 1)[0], self.status, self.server_log[:160])


@dataclass
class Tally:
    """Request count, status histogram and findings of one backend's run."""

    backend: str
    statuses: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    logged_errors: int = 0

    @property
    def requests(self) -> int:
        """How many requests were sent."""
        return sum(self.statuses.values())

    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))

    def distinct(self) -> list[Finding]:
        """The findings with one representative per distinct failure."""
        seen: dict[tuple[str, str, int | None, str], Finding] = {}
        for item in self.findings:
            seen.setdefault(item.key(), item)
        return list(seen.values())


class ServerLog(logging.Handler):
    """Collects the ERROR records the server emits, to pair them with the request in flight."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._lock = threading.Lock()
        self._records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep a one-line summary: logger, message and the exception with its innermost frame."""
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            tb = record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = ""
            if tb is not None:
                code = tb.tb_frame.f_code
                where = f" at {Path(code.co_filename).name}:{tb.tb_lineno} in {code.co_name}"
            text += f" | {type(exc).__name__}: {str(exc)[:200]}{where}"
        with self._lock:
            self._records.append(text)

    def mark(self) -> int:
        """A position to read new records from."""
        with self._lock:
            return len(self._records)

    def since(self, mark: int) -> list[str]:
        """Records emitted after `mark`."""
        with self._lock:
            return self._records[mark:]


class ServerThread:
    """The real homeserver on a free port, on an event loop in a background thread."""

    def __init__(self, backend: str, data_dir: Path) -> None:
        self.backend = backend
        self._data_dir = data_dir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"fuzz-{backend}")
        self._runner: web.AppRunner | None = None
        self._database: str | None = None
        self.port = 0

    def start(self) -> None:
        """Create the database, start the app and wait until it listens."""
        self._thread.start()
        self._run(self._start())

    def stop(self) -> None:
        """Stop the app, drop the database and end the thread."""
        try:
            self._run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(TIMEOUT)
            self._loop.close()

    def _run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=120)

    async def _start(self) -> None:
        url = f"sqlite:///{self._data_dir / 'homeserver.db'}"
        if self.backend == "postgres":
            self._database = f"tessera_fuzz_{secrets.token_hex(6)}"
            await _admin(f'CREATE DATABASE "{self._database}"')
            url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{self._database}"
        config = make_config(url, self._data_dir / "data", request_body_timeout_ms=BODY_TIMEOUT_MS)
        live, self._runner = await start_server(config)
        self.port = int(live.url.rsplit(":", 1)[1])

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._database is not None:
            await _admin(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


class Client:
    """Sends raw requests to the fuzzed server and judges every answer into a `Tally`."""

    def __init__(self, port: int, tally: Tally, log: ServerLog) -> None:
        self.port = port
        self.tally = tally
        self.log = log

    def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one well-framed request; `target` is sent as given (already encoded)."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        return self.raw(head + (body or b""), method=method)

    def raw(self, data: bytes, *, method: str = "GET") -> Answer:
        """Send `data` as is on a new connection and read one answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as sock:
            with contextlib.suppress(OSError):  # the server may answer before reading it all
                sock.sendall(data)
            response = http.client.HTTPResponse(sock, method=method)
            try:
                response.begin()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                return Answer(None, {}, repr(exc).encode())
            return Answer(response.status, dict(response.getheaders()), payload)

    def judged(self, case: str, mutation: str, method: str, target: str, **kw: Any) -> Answer:
        """`request` and judge the answer."""
        mark = self.log.mark()
        answer = self.request(method, target, **kw)
        self.judge(case, mutation, answer, mark)
        return answer

    def judge(self, case: str, mutation: str, answer: Answer, mark: int) -> None:
        """Count the answer and record a finding if it breaks the rules."""
        logged = self.log.since(mark)
        self.tally.logged_errors += len(logged)
        self.tally.statuses["none" if answer.status is None else str(answer.status)] += 1
        problem = _problem(answer)
        if problem is not None:
            self.tally.findings.append(
                Finding(case, mutation, answer.status, problem, " || ".join(logged))
            )


def _problem(answer: Answer) -> str | None:
    if answer.status is None:
        return f"no answer ({answer.body.decode(errors='replace')[:120]})"
    if answer.status >= 500:
        return f"server error {answer.status}"
    if answer.status >= 400:
        body = answer.json()
        if answer.status == 401 and isinstance(body, dict) and "flows" in body:
            return None  # a user-interactive auth challenge carries no errcode by design
        if not isinstance(body, dict) or not isinstance(body.get("errcode"), str):
            return f"error without a JSON errcode: {answer.body[:120]!r}"
    return None

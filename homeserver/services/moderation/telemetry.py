"""Request telemetry: one record per client request, kept in a bounded ring buffer.

Each record holds what a moderator (or the moderation bot) needs to tell abuse from use: the
client IP, the time, the endpoint template (never the raw path), method, status, errcode, the
authenticated user and device, body size and latency, plus a domain signal for the requests
whose meaning a request log cannot show (a login and the user ID it targeted, a registration,
an invite, a join, a message's link count and near-duplicate fingerprint).

Invariants: records never hold message bodies, passwords or tokens; the buffer keeps the
newest `capacity` records and numbers them with a gap-free sequence starting at 1, so a reader
that asks for records after a sequence number learns how many it missed when the buffer moved
on. Readers long-poll: `read` waits until a record newer than their token arrives.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from core.errors import JsonDict

__all__ = ["RequestRecord", "TelemetryLog", "TelemetryPage"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One client request as telemetry keeps it.

    Attributes:
        ts: When the request arrived (ms since the epoch).
        ip: The client IP (see `homeserver.api.http.client_ip`).
        method: The HTTP method.
        endpoint: The endpoint template it matched, None when it matched no endpoint.
        status: The HTTP status answered.
        errcode: The Matrix errcode answered, if any.
        user_id: The authenticated user, if any.
        device_id: The authenticated device, if any.
        body_bytes: The request body's size.
        latency_ms: Time spent answering.
        signal: The domain signal (`{"kind": "login", ...}`), if the request carries one.
    """

    ts: int
    ip: str
    method: str
    endpoint: str | None
    status: int
    errcode: str | None
    user_id: str | None
    device_id: str | None
    body_bytes: int
    latency_ms: float
    signal: JsonDict | None = None

    def to_json(self, seq: int) -> JsonDict:
        """The record as the admin API answers it, numbered `seq`."""
        body: JsonDict = {
            "seq": seq,
            "ts": self.ts,
            "ip": self.ip,
            "method": self.method,
            "endpoint": self.endpoint,
            "status": self.status,
            "errcode": self.errcode,
            "user_id": self.user_id,
            "device_id": self.device_id,
            "body_bytes": self.body_bytes,
            "latency_ms": round(self.latency_ms, 2),
        }
        if self.signal is not None:
            body["signal"] = self.signal
        return body


@dataclass(frozen=True, slots=True)
class TelemetryPage:
    """A page of records after a token.

    Attributes:
        records: (sequence number, record) pairs in order.
        next_token: The token to ask for the records after these.
        missed: Records the caller's token was behind by that the buffer no longer holds.
    """

    records: list[tuple[int, RequestRecord]]
    next_token: int
    missed: int


class TelemetryLog:
    """The ring buffer of the newest request records, with long-polling readers."""

    def __init__(self, capacity: int) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._last_seq = 0
        self._arrived = asyncio.Event()

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest record (0 before any)."""
        return self._last_seq

    def append(self, record: RequestRecord) -> None:
        """Keep `record` (dropping the oldest when full) and wake the readers."""
        self._records.append(record)
        self._last_seq += 1
        self._arrived.set()

    def newest(self) -> Iterator[tuple[int, RequestRecord]]:
        """Every record held, oldest first, with its sequence number."""
        first = self._last_seq - len(self._records) + 1
        return zip(range(first, self._last_seq + 1), tuple(self._records), strict=True)

    def page(self, since: int, limit: int) -> TelemetryPage:
        """Up to `limit` records after `since` (a token from an earlier page, 0 at first)."""
        since = min(since, self._last_seq)
        first_held = self._last_seq - len(self._records) + 1
        start = max(since + 1, first_held)
        missed = start - since - 1
        offset = start - first_held
        count = min(limit, self._last_seq - start + 1)
        records = [(start + i, self._records[offset + i]) for i in range(max(0, count))]
        next_token = records[-1][0] if records else max(since, start - 1)
        return TelemetryPage(records=records, next_token=next_token, missed=missed)

    async def read(self, since: int, limit: int, timeout_s: float) -> TelemetryPage:
        """`page(since, limit)`, waiting up to `timeout_s` for a record if there is none yet."""
        since = min(since, self._last_seq)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._last_seq <= since:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        return self.page(since, limit)

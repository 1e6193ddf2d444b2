"""Per-IP behaviour features over sliding windows of the homeserver's request telemetry.

`IpWindow` keeps, for one client IP, the recent records it needs (bounded: at most the last
`_LONG_S` seconds and `_MAX_KEPT` records) and turns them into the feature vector the model
scores. Everything is computed from record timestamps, never the wall clock, so a captured
stream replays to the same features.

The features (`FEATURES`, in vector order):

- `req_60`, `req_600` — requests in the last minute and ten minutes;
- `login_fail_60`, `login_fail_600`, `login_ok_600` — failed and successful logins;
- `login_targets` — distinct accounts the failed logins named; `missing_share` — the share of
  those that do not exist;
- `reg_ok`, `reg_fail` — accounts created, and refused registrations (401 first rounds aside);
- `invites`, `invite_targets` — invites sent and distinct users invited;
- `joins`, `rooms_messaged` — joins, and distinct rooms messages went to;
- `messages`, `link_share`, `dup_share` — messages, the share holding links, the share that is
  a near-duplicate (SimHash within 6 bits) of an earlier message from the same IP;
- `users` — distinct accounts seen from the IP; `sync_share` — the share of requests that are
  `/sync`; `err_share` — the share answered 4xx; `limited` — 429 answers;
- `lookup_404` — 404s from profile, alias and directory lookups; `lookups` — profile, user
  directory and room directory requests;
- `gap_cv` — the coefficient of variation of the gaps between the last 20 requests (machines
  are regular, people are not); `age` — seconds since the IP was first seen (at most 600).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["FEATURES", "IpWindow", "Record", "endpoint_class"]

Record = dict[str, Any]

FEATURES: Final = (
    "req_60",
    "req_600",
    "login_fail_60",
    "login_fail_600",
    "login_ok_600",
    "login_targets",
    "missing_share",
    "reg_ok",
    "reg_fail",
    "invites",
    "invite_targets",
    "joins",
    "rooms_messaged",
    "messages",
    "link_share",
    "dup_share",
    "users",
    "sync_share",
    "err_share",
    "limited",
    "lookup_404",
    "lookups",
    "gap_cv",
    "age",
)

_SHORT_S: Final = 60.0
_LONG_S: Final = 600.0
_MAX_KEPT: Final = 5000
_DUP_BITS: Final = 6
_GAPS: Final = 20
_LOOKUPS: Final = ("/profile/", "/directory/room/", "/user_directory/", "/publicRooms")


def endpoint_class(endpoint: str | None) -> str:
    """A coarse class of an endpoint template: `sync`, `lookup`, `other`, or `none`."""
    if endpoint is None:
        return "none"
    if endpoint.endswith("/sync"):
        return "sync"
    if any(part in endpoint for part in _LOOKUPS):
        return "lookup"
    return "other"


@dataclass(slots=True)
class _Entry:
    ts: float
    status: int
    klass: str
    user: str | None
    signal: dict[str, Any] | None


class IpWindow:
    """The recent records of one client IP and the features they give."""

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.first_ts: float | None = None
        self.last_ts = 0.0
        self.seen = 0
        self._entries: deque[_Entry] = deque()

    def add(self, record: Record) -> None:
        """Take one telemetry record of this IP (records arrive in time order)."""
        ts = float(record["ts"]) / 1000
        if self.first_ts is None:
            self.first_ts = ts
        self.last_ts = max(self.last_ts, ts)
        self.seen += 1
        signal = record.get("signal")
        self._entries.append(
            _Entry(
                ts=ts,
                status=int(record["status"]),
                klass=endpoint_class(record.get("endpoint")),
                user=record.get("user_id"),
                signal=signal if isinstance(signal, dict) else None,
            )
        )
        self._trim(ts)

    def _trim(self, now: float) -> None:
        while self._entries and (
            self._entries[0].ts < now - _LONG_S or len(self._entries) > _MAX_KEPT
        ):
            self._entries.popleft()

    def features(self, now: float | None = None) -> list[float]:
        """The feature vector (`FEATURES` order) at `now` (the last record's time by default)."""
        now = self.last_ts if now is None else now
        self._trim(now)
        entries = self._entries
        short = [e for e in entries if e.ts >= now - _SHORT_S]
        n = len(entries)
        values = _signal_features(entries, short)
        values["req_60"] = len(short)
        values["req_600"] = n
        values["users"] = len({e.user for e in entries if e.user})
        values["sync_share"] = _share(sum(e.klass == "sync" for e in entries), n)
        values["err_share"] = _share(sum(400 <= e.status < 500 for e in entries), n)
        values["limited"] = sum(e.status == 429 for e in entries)
        values["lookup_404"] = sum(e.klass == "lookup" and e.status == 404 for e in entries)
        values["lookups"] = sum(e.klass == "lookup" for e in entries)
        values["gap_cv"] = _gap_cv([e.ts for e in list(entries)[-_GAPS:]])
        values["age"] = min(_LONG_S, now - (self.first_ts or now))
        return [float(values[name]) for name in FEATURES]


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _gap_cv(times: list[float]) -> float:
    if len(times) < 4:
        return 1.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    if mean <= 0:
        return 0.0
    var = sum((g - mean) ** 2 for g in gaps) / len(gaps)
    return min(5.0, math.sqrt(var) / mean)


def _signal_features(entries: deque[_Entry], short: list[_Entry]) -> dict[str, float]:
    fails = [
        e.signal
        for e in entries
        if e.signal and e.signal.get("kind") == "login" and not e.signal.get("ok")
    ]
    targets = {str(s.get("target")) for s in fails}
    missing = {str(s.get("target")) for s in fails if s.get("target_exists") is False}
    kinds: dict[str, int] = {}
    invite_targets: set[str] = set()
    rooms: set[str] = set()
    prints: list[int] = []
    links = dups = 0
    for entry in entries:
        s = entry.signal
        if s is None:
            continue
        kind = f"{s.get('kind')}_{'ok' if s.get('ok') else 'fail'}"
        if s.get("stage") == "auth":
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "invite_ok" and s.get("target"):
            invite_targets.add(str(s["target"]))
        if kind == "message_ok":
            rooms.add(str(s.get("room_id")))
            links += int(s.get("links", 0) or 0) > 0
            fingerprint = s.get("simhash")
            if isinstance(fingerprint, str):
                value = int(fingerprint, 16)
                dups += any((value ^ p).bit_count() <= _DUP_BITS for p in prints[-50:])
                prints.append(value)
    messages = kinds.get("message_ok", 0)
    return {
        "login_fail_60": sum(
            1
            for e in short
            if e.signal and e.signal.get("kind") == "login" and not e.signal.get("ok")
        ),
        "login_fail_600": len(fails),
        "login_ok_600": kinds.get("login_ok", 0),
        "login_targets": len(targets),
        "missing_share": _share(len(missing), len(targets)),
        "reg_ok": kinds.get("register_ok", 0),
        "reg_fail": kinds.get("register_fail", 0),
        "invites": kinds.get("invite_ok", 0) + kinds.get("invite_fail", 0),
        "invite_targets": len(invite_targets),
        "joins": kinds.get("join_ok", 0),
        "rooms_messaged": len(rooms),
        "messages": messages,
        "link_share": _share(links, messages),
        "dup_share": _share(dups, messages),
    }

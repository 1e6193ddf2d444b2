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
from collections import Counter, defaultdict, deque
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
_SHORT_COUNTS: Final = frozenset({"req", "login_fail"})
_LOOKUPS: Final = ("/profile/", "/directory/room/", "/user_directory/", "/publicRooms")


def endpoint_class(endpoint: str | None, method: str = "GET") -> str:
    """A coarse class of an endpoint template: `sync`, `lookup` (reading profiles, aliases or
    directories: not setting one's own), `other`, or `none`."""
    if endpoint is None:
        return "none"
    if endpoint.endswith("/sync"):
        return "sync"
    if method in ("GET", "POST") and any(part in endpoint for part in _LOOKUPS):
        return "lookup"
    return "other"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One record's contributions to the counters, taken back when it leaves a window."""

    ts: float
    counts: tuple[str, ...]
    members: tuple[tuple[str, str], ...]


class IpWindow:
    """The recent records of one client IP and the features they give.

    Counters are kept incrementally: a record adds its contributions when it arrives and takes
    them back when it leaves the ten-minute window (or the one-minute one), so `features` costs
    the same however busy the IP is.
    """

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.first_ts: float | None = None
        self.last_ts = 0.0
        self.seen = 0
        self._long: deque[_Entry] = deque()
        self._short: deque[_Entry] = deque()
        self._counts: Counter[str] = Counter()
        self._short_counts: Counter[str] = Counter()
        self._members: dict[str, Counter[str]] = defaultdict(Counter)
        self._prints: deque[tuple[float, int]] = deque(maxlen=50)
        self._times: deque[float] = deque(maxlen=_GAPS)

    def add(self, record: Record) -> None:
        """Take one telemetry record of this IP (records arrive in time order)."""
        ts = float(record["ts"]) / 1000
        if self.first_ts is None:
            self.first_ts = ts
        self.last_ts = max(self.last_ts, ts)
        self.seen += 1
        self._times.append(ts)
        counts, members = self._contributions(ts, record)
        entry = _Entry(ts, counts, members)
        self._long.append(entry)
        self._short.append(entry)
        self._counts.update(counts)
        self._short_counts.update(c for c in counts if c in _SHORT_COUNTS)
        for kind, member in members:
            self._members[kind][member] += 1
        self._trim(ts)

    def _contributions(
        self, ts: float, record: Record
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        status = int(record["status"])
        klass = endpoint_class(record.get("endpoint"), str(record.get("method", "GET")))
        counts = ["req"]
        members: list[tuple[str, str]] = []
        if klass == "sync":
            counts.append("sync")
        if 400 <= status < 500:
            counts.append("err")
        if status == 429:
            counts.append("limited")
        if klass == "lookup":
            counts.append("lookup")
            if status == 404:
                counts.append("lookup_404")
        user = record.get("user_id")
        if user:
            members.append(("users", str(user)))
        signal = record.get("signal")
        # A refused (429) or auth-stage (401) attempt checked no password and made nothing.
        if isinstance(signal, dict) and signal.get("stage") != "auth" and status != 429:
            self._signal(ts, signal, counts, members)
        return tuple(counts), tuple(members)

    def _signal(
        self, ts: float, s: dict[str, Any], counts: list[str], members: list[tuple[str, str]]
    ) -> None:
        kind = f"{s.get('kind')}_{'ok' if s.get('ok') else 'fail'}"
        counts.append(kind)
        if kind == "login_fail":
            members.append(("targets", str(s.get("target"))))
            if s.get("target_exists") is False:
                members.append(("missing", str(s.get("target"))))
        elif kind == "invite_ok" and s.get("target"):
            members.append(("invite_targets", str(s["target"])))
        elif kind == "message_ok":
            members.append(("rooms", str(s.get("room_id"))))
            if int(s.get("links", 0) or 0) > 0:
                counts.append("links")
            fingerprint = s.get("simhash")
            if isinstance(fingerprint, str):
                try:
                    value = int(fingerprint, 16)
                except ValueError:
                    return
                recent = (p for t, p in self._prints if t >= ts - _LONG_S)
                if any((value ^ p).bit_count() <= _DUP_BITS for p in recent):
                    counts.append("dups")
                self._prints.append((ts, value))

    def _trim(self, now: float) -> None:
        while self._long and (self._long[0].ts < now - _LONG_S or len(self._long) > _MAX_KEPT):
            entry = self._long.popleft()
            self._counts.subtract(entry.counts)
            for kind, member in entry.members:
                left = self._members[kind]
                left[member] -= 1
                if left[member] <= 0:
                    del left[member]
        while self._short and self._short[0].ts < now - _SHORT_S:
            entry = self._short.popleft()
            self._short_counts.subtract(c for c in entry.counts if c in _SHORT_COUNTS)

    def features(self, now: float | None = None) -> list[float]:
        """The feature vector (`FEATURES` order) at `now` (the last record's time by default)."""
        now = self.last_ts if now is None else now
        self._trim(now)
        c, m = self._counts, self._members
        n, messages, targets = c["req"], c["message_ok"], len(m["targets"])
        values = {
            "req_60": self._short_counts["req"],
            "req_600": n,
            "login_fail_60": self._short_counts["login_fail"],
            "login_fail_600": c["login_fail"],
            "login_ok_600": c["login_ok"],
            "login_targets": targets,
            "missing_share": _share(len(m["missing"]), targets),
            "reg_ok": c["register_ok"],
            "reg_fail": c["register_fail"],
            "invites": c["invite_ok"] + c["invite_fail"],
            "invite_targets": len(m["invite_targets"]),
            "joins": c["join_ok"],
            "rooms_messaged": len(m["rooms"]),
            "messages": messages,
            "link_share": _share(c["links"], messages),
            "dup_share": _share(c["dups"], messages),
            "users": len(m["users"]),
            "sync_share": _share(c["sync"], n),
            "err_share": _share(c["err"], n),
            "limited": c["limited"],
            "lookup_404": c["lookup_404"],
            "lookups": c["lookup"],
            "gap_cv": _gap_cv(list(self._times)),
            "age": min(_LONG_S, now - (self.first_ts or now)),
        }
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

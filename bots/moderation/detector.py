"""The detector: telemetry records in, flags out, with no I/O.

Each record goes to its IP's window (`features.IpWindow`); `tick(now)` scores, in one batch,
every IP that had news since the last tick and flags those scoring at or above the threshold
`confirmations` times in a row (`CONFIRMATIONS`) once they have made `min_requests` requests
(`MIN_REQUESTS`). An IP is flagged once (until `unflag`), IPs on the allow list
are never flagged, and the bot's own account's requests are ignored. A flag carries its
evidence: the score, the top features and the accounts from that IP that sent messages or
invites (spam accounts move between addresses, so they are flagged too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bots.moderation.features import FEATURES, IpWindow, Record
from bots.moderation.model import Scorer

__all__ = ["CONFIRMATIONS", "MIN_REQUESTS", "Detector", "Flag"]

MIN_REQUESTS = 3
"""Requests an IP must have made before it is scored (one or two say too little: two people
behind one address mistyping their passwords look like the start of a password guesser)."""
CONFIRMATIONS = 2
"""Scorings in a row, each after new requests, at or above the threshold before a flag: one
request that looks bad (an office's third mistyped password) is confirmed or cleared by the next."""


@dataclass(frozen=True, slots=True)
class Flag:
    """An IP judged abusive.

    Attributes:
        ip: The address.
        score: The model's score.
        ts: When (seconds, record time).
        first_ts: When the IP was first seen (record time).
        evidence: (feature, value, score drop) of the top features.
        users: Accounts from this IP that sent messages or invites.
        features: The whole feature vector, by name.
    """

    ip: str
    score: float
    ts: float
    first_ts: float
    evidence: list[tuple[str, float, float]]
    users: list[str]
    features: dict[str, float] = field(default_factory=dict)

    def reason(self) -> str:
        """One readable line: the score and the evidence."""
        parts = ", ".join(f"{name}={value:g}" for name, value, _ in self.evidence)
        return f"moderation bot: score {self.score:.2f} ({parts})"


class Detector:
    """Per-IP windows, batch scoring, flags."""

    def __init__(
        self,
        scorer: Scorer,
        *,
        min_requests: int = MIN_REQUESTS,
        confirmations: int = CONFIRMATIONS,
        own_user: str | None = None,
    ):
        self.scorer = scorer
        self.min_requests = min_requests
        self.confirmations = confirmations
        self.own_user = own_user
        self.windows: dict[str, IpWindow] = {}
        self.flagged: dict[str, Flag] = {}
        self.allowed: set[str] = set()
        self.scores: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._actors: dict[str, dict[str, float]] = {}
        self._hits: dict[str, int] = {}

    def observe(self, record: Record) -> None:
        """Take one telemetry record."""
        if self.own_user is not None and record.get("user_id") == self.own_user:
            return
        ip = str(record["ip"])
        window = self.windows.get(ip)
        if window is None:
            window = self.windows[ip] = IpWindow(ip)
        window.add(record)
        signal = record.get("signal")
        user = record.get("user_id")
        if user and isinstance(signal, dict) and signal.get("kind") in ("message", "invite"):
            self._actors.setdefault(ip, {})[str(user)] = window.last_ts
        self._dirty.add(ip)

    def tick(self, now: float | None = None) -> list[Flag]:
        """Score the IPs with news; the new flags."""
        ips = [
            ip
            for ip in self._dirty
            if ip not in self.flagged
            and ip not in self.allowed
            and self.windows[ip].seen >= self.min_requests
        ]
        self._dirty.clear()
        rows = [self.windows[ip].features(now) for ip in ips]
        flags = []
        for ip, row, score in zip(ips, rows, self.scorer.scores(rows), strict=True):
            self.scores[ip] = score
            if score < self.scorer.threshold:
                self._hits.pop(ip, None)
                continue
            self._hits[ip] = self._hits.get(ip, 0) + 1
            if self._hits[ip] >= self.confirmations:
                flags.append(self._flag(ip, row, score))
        return flags

    def _flag(self, ip: str, row: list[float], score: float) -> Flag:
        window = self.windows[ip]
        values = dict(zip(FEATURES, row, strict=True))
        users = []
        if values["messages"] or values["invites"]:
            users = sorted(self._actors.get(ip, {}))
        flag = Flag(
            ip=ip,
            score=score,
            ts=window.last_ts,
            first_ts=window.first_ts or window.last_ts,
            evidence=self.scorer.explain(row),
            users=users,
            features=values,
        )
        self.flagged[ip] = flag
        return flag

    def unflag(self, ip: str) -> Flag | None:
        """Forget a flag (the IP is scored again from its next request, and must be confirmed
        again before another flag)."""
        self._hits.pop(ip, None)
        if ip in self.windows:
            self._dirty.add(ip)
        return self.flagged.pop(ip, None)

    def allow(self, ip: str) -> None:
        """Never flag `ip` (a known-good address)."""
        self.allowed.add(ip)
        self.flagged.pop(ip, None)

"""Per-IP and per-user summaries of the telemetry the ring buffer still holds.

A summary answers a moderator's first questions about an address or an account: how much it
did and when, on which endpoints, how often it failed and how, which accounts used the address
(or which addresses the account used), and what its domain signals add up to (failed logins and
the distinct accounts they targeted, registrations, invites, joins, messages with links and
repeated fingerprints). It covers only what the buffer holds, which it says (`since_ts`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from core.errors import JsonDict
from homeserver.services.moderation.telemetry import RequestRecord

__all__ = ["Summary", "summarise"]

_TOP = 10


@dataclass(slots=True)
class Summary:
    """Counters over the records of one IP or user."""

    requests: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    endpoints: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    errcodes: Counter[str] = field(default_factory=Counter)
    peers: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)
    login_targets: set[str] = field(default_factory=set)
    missing_targets: set[str] = field(default_factory=set)
    fingerprints: Counter[str] = field(default_factory=Counter)
    links: int = 0

    def add(self, record: RequestRecord, peer: str | None) -> None:
        """Count `record`; `peer` is the user (for an IP) or the IP (for a user)."""
        self.requests += 1
        self.first_ts = record.ts if self.first_ts is None else self.first_ts
        self.last_ts = record.ts
        self.endpoints[f"{record.method} {record.endpoint or '(no endpoint)'}"] += 1
        self.statuses[record.status] += 1
        if record.errcode:
            self.errcodes[record.errcode] += 1
        if peer:
            self.peers[peer] += 1
        signal = record.signal
        if signal is None:
            return
        kind = str(signal.get("kind"))
        ok = signal.get("ok", True)
        self.signals[kind if ok else f"{kind}_failed"] += 1
        if kind == "login" and not ok and isinstance(signal.get("target"), str):
            self.login_targets.add(signal["target"])
            if signal.get("target_exists") is False:
                self.missing_targets.add(signal["target"])
        if kind == "message":
            self.links += int(signal.get("links", 0))
            self.fingerprints[str(signal.get("simhash"))] += 1

    def to_json(self, peer_name: str) -> JsonDict:
        """The summary as the admin API answers it; `peer_name` is `users` or `ips`."""
        return {
            "requests": self.requests,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "endpoints": dict(self.endpoints.most_common(_TOP)),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errcodes": dict(self.errcodes),
            peer_name: dict(self.peers.most_common(_TOP)),
            "distinct_" + peer_name: len(self.peers),
            "signals": dict(self.signals),
            "failed_login_targets": len(self.login_targets),
            "failed_login_missing_targets": len(self.missing_targets),
            "message_links": self.links,
            "repeated_messages": sum(n - 1 for n in self.fingerprints.values() if n > 1),
        }


def summarise(
    records: Iterable[RequestRecord],
    matches: Callable[[RequestRecord], bool],
    peer: Callable[[RequestRecord], str | None],
) -> Summary:
    """The summary of the `records` that `matches` selects, counting `peer` of each."""
    summary = Summary()
    for record in records:
        if matches(record):
            summary.add(record, peer(record))
    return summary

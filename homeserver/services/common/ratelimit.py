"""Token-bucket rate limiting keyed by action and requester (IP or user).

Buckets live in memory per process: a limit bounds one worker's load, which is what matters
for abuse of expensive endpoints. Refusals carry `retry_after_ms` as the spec's 429 requires.

Invariants:
- A request drawing on several buckets (`check_all`) takes from all of them or from none, and
  a refusal reports the longest wait among the buckets that refuse, so a client that waits
  `retry_after_ms` is not refused again by another bucket.
- Memory is bounded by evicting only idle buckets (refilled to `burst`, so indistinguishable
  from a new one), least recently used first, once more than `max_keys` exist. A bucket that is
  still limiting is never evicted: forgetting it would hand an attacker a fresh budget. While
  no bucket is idle the map may grow past `max_keys`; every bucket becomes idle within
  `burst / per_second` seconds of its last use, which bounds that growth by the request rate.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from core.errors import M_LIMIT_EXCEEDED, MatrixError
from homeserver.clock import Clock

MAX_KEYS = 100_000
_EVICT_TO = 0.9  # on overflow, evict idle buckets down to this share of max_keys


class Limit(Protocol):
    """Sustained rate and burst size of one action (`config.RateLimit` is one)."""

    @property
    def per_second(self) -> float: ...

    @property
    def burst(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Draw:
    """One bucket a request draws on: `cost` tokens from the (`action`, `key`) bucket.

    A `cost` of 0 takes nothing but still refuses when not one whole action is left, so
    callers can ask "would this be allowed?" before doing the work.
    """

    action: str
    key: str
    limit: Limit
    cost: float = 1.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    full_at: float  # when it will have refilled to `burst`: idle (evictable) from then on


class RateLimiter:
    """Many token buckets, one per (action, key), in least-recently-used order."""

    def __init__(self, clock: Clock, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._no_idle_before = -math.inf  # a full scan found nothing idle before this time

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self._buckets)

    def check(self, action: str, key: str, limit: Limit, *, cost: float = 1.0) -> None:
        """Take `cost` tokens from one bucket or raise `M_LIMIT_EXCEEDED` (see `Draw`).

        Raises:
            MatrixError: 429 with `retry_after_ms` when the bucket is empty.
        """
        self.check_all(Draw(action, key, limit, cost))

    def check_all(self, *draws: Draw) -> None:
        """Take from every bucket in `draws`, or from none if any of them refuses.

        Raises:
            MatrixError: 429 whose `retry_after_ms` is the longest wait among the refusing
                buckets: after it, every one of them allows the request.
        """
        now = self._clock.monotonic()
        active = [draw for draw in draws if draw.limit.per_second > 0]
        wait_ms = max((self._wait_ms(draw, now) for draw in active), default=0)
        if wait_ms > 0:
            raise MatrixError(
                M_LIMIT_EXCEEDED, "Too many requests", extra={"retry_after_ms": wait_ms}
            )
        for draw in active:
            if draw.cost > 0:
                self._take(draw, now)

    def _wait_ms(self, draw: Draw, now: float) -> int:
        """Milliseconds until the bucket holds `cost` (at least one) tokens; 0 if it does."""
        bucket = self._buckets.get((draw.action, draw.key))
        limit = draw.limit
        tokens = float(limit.burst) if bucket is None else _refilled(bucket, limit, now)
        needed = draw.cost or 1.0
        if tokens >= needed:
            return 0
        return int((needed - tokens) / limit.per_second * 1000) + 1

    def _take(self, draw: Draw, now: float) -> None:
        key = (draw.action, draw.key)
        limit = draw.limit
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now, now)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = _refilled(bucket, limit, now) - draw.cost
        bucket.updated = now
        bucket.full_at = now + (limit.burst - bucket.tokens) / limit.per_second

    def _make_room(self, now: float) -> None:
        """Evict idle buckets, oldest use first, when the map is full (see the invariants)."""
        if len(self._buckets) < self._max_keys or now < self._no_idle_before:
            return
        target = int(self._max_keys * _EVICT_TO)
        idle: list[tuple[str, str]] = []
        next_idle = math.inf
        for key, bucket in self._buckets.items():
            if len(self._buckets) - len(idle) <= target:
                break
            if bucket.full_at <= now:
                idle.append(key)
            else:
                next_idle = min(next_idle, bucket.full_at)
        if len(self._buckets) - len(idle) > target:
            # Scanned everything without reaching the target: scan again only once another
            # bucket can have become idle, so a flood of new keys costs no repeated full scans.
            self._no_idle_before = next_idle
        for key in idle:
            del self._buckets[key]


def _refilled(bucket: _Bucket, limit: Limit, now: float) -> float:
    return min(float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.per_second)

"""Token-bucket rate limiting keyed by action and requester (IP or user).

Buckets live in memory per process: a limit bounds one worker's load, which is what matters
for abuse of expensive endpoints. Refusals carry `retry_after_ms` as the spec's 429 requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import M_LIMIT_EXCEEDED, MatrixError
from homeserver.clock import Clock

_MAX_KEYS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class Limit(Protocol):
    """Sustained rate and burst size of one action (`config.RateLimit` is one)."""

    @property
    def per_second(self) -> float: ...

    @property
    def burst(self) -> int: ...


class RateLimiter:
    """Many token buckets, one per (action, key)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def check(self, action: str, key: str, limit: Limit, *, cost: float = 1.0) -> None:
        """Take `cost` tokens from the bucket or raise `M_LIMIT_EXCEEDED`.

        A `cost` of 0 takes nothing but still refuses when not one whole action is left, so
        callers can ask "would this be allowed?" before doing the work.

        Raises:
            MatrixError: 429 with `retry_after_ms` when the bucket is empty.
        """
        if limit.per_second <= 0:
            return
        now = self._clock.monotonic()
        bucket = self._buckets.get((action, key))
        if bucket is None:
            if len(self._buckets) >= _MAX_KEYS:
                self._evict_full(now, limit)
            bucket = self._buckets[(action, key)] = _Bucket(float(limit.burst), now)
        bucket.tokens = min(
            float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.per_second
        )
        bucket.updated = now
        needed = cost or 1.0
        if bucket.tokens >= needed:
            bucket.tokens -= cost
            return
        retry_ms = int((needed - bucket.tokens) / limit.per_second * 1000) + 1
        raise MatrixError(M_LIMIT_EXCEEDED, "Too many requests", extra={"retry_after_ms": retry_ms})

    def _evict_full(self, now: float, limit: Limit) -> None:
        # Buckets that have refilled completely carry no information; drop them.
        full_after = limit.burst / limit.per_second
        stale = [k for k, b in self._buckets.items() if now - b.updated >= full_after]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) >= _MAX_KEYS:
            self._buckets.clear()

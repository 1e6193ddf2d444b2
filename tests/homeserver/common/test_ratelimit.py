"""The token-bucket limiter: combined draws, the longest wait, and eviction of idle buckets only."""

from __future__ import annotations

import pytest

from core.errors import MatrixError
from homeserver.config import RateLimit
from homeserver.services.common.ratelimit import Draw, RateLimiter
from tests.homeserver.fake_clock import FakeClock

SLOW = RateLimit(per_second=0.5, burst=2)  # 2 s per token
SLOWER = RateLimit(per_second=0.1, burst=1)  # 10 s per token


def _retry_ms(limiter: RateLimiter, *draws: Draw) -> int:
    with pytest.raises(MatrixError) as caught:
        limiter.check_all(*draws)
    assert caught.value.status == 429
    assert caught.value.errcode == "M_LIMIT_EXCEEDED"
    retry = caught.value.extra["retry_after_ms"]
    assert isinstance(retry, int)
    return retry


def test_bucket_refuses_when_empty_and_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limiter.check("a", "k", SLOW)
    limiter.check("a", "k", SLOW)
    retry = _retry_ms(limiter, Draw("a", "k", SLOW))
    assert 0 < retry <= 2001
    clock.advance(retry)
    limiter.check("a", "k", SLOW)


def test_peek_takes_nothing_and_creates_no_bucket() -> None:
    limiter = RateLimiter(FakeClock())
    for _ in range(5):
        limiter.check("a", "k", SLOW, cost=0)
    assert len(limiter) == 0
    limiter.check("a", "k", SLOW)
    limiter.check("a", "k", SLOW)
    _retry_ms(limiter, Draw("a", "k", SLOW, cost=0))


def test_combined_refusal_reports_the_longest_wait_and_takes_nothing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limiter.check("slow", "k", SLOW)
    limiter.check("slow", "k", SLOW)
    limiter.check("slower", "k", SLOWER)
    both = (Draw("slow", "k", SLOW), Draw("slower", "k", SLOWER))
    retry = _retry_ms(limiter, *both)
    assert retry > 2001  # the 10 s bucket's wait, not the 2 s one
    # After the reported wait every bucket allows the request: no second 429.
    clock.advance(retry)
    limiter.check_all(*both)


def test_refused_combined_draw_leaves_the_other_buckets_untouched() -> None:
    limiter = RateLimiter(FakeClock())
    limiter.check("slower", "k", SLOWER)
    for _ in range(5):
        _retry_ms(limiter, Draw("slow", "k", SLOW), Draw("slower", "k", SLOWER))
    # The refused attempts did not drain the other bucket.
    limiter.check("slow", "k", SLOW)
    limiter.check("slow", "k", SLOW)


def test_a_limited_bucket_survives_a_flood_of_new_keys() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, max_keys=100)
    for _ in range(2):
        limiter.check("login_failure", "@victim:localhost", SLOW)
    _retry_ms(limiter, Draw("login_failure", "@victim:localhost", SLOW))
    # Many more keys than the map holds, each drained and so still limited.
    for i in range(300):
        limiter.check("login", f"10.0.{i // 256}.{i % 256}", SLOWER)
    _retry_ms(limiter, Draw("login_failure", "@victim:localhost", SLOW))


def test_idle_buckets_are_evicted_least_recently_used_first() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, max_keys=100)
    for i in range(100):
        limiter.check("a", f"idle-{i}", SLOW)
    clock.advance(10_000)  # every bucket has refilled: all idle now
    limiter.check("a", "limited", SLOW)
    limiter.check("a", "limited", SLOW)
    for i in range(50):
        limiter.check("a", f"new-{i}", SLOW)
    assert len(limiter) <= 100
    _retry_ms(limiter, Draw("a", "limited", SLOW))


def test_growth_past_the_cap_while_nothing_is_idle_then_eviction() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, max_keys=10)
    for i in range(30):
        limiter.check("a", f"k{i}", SLOWER)
    assert len(limiter) == 30  # all limited: nothing may be forgotten
    clock.advance(10_001)  # now all idle
    limiter.check("a", "fresh", SLOWER)
    assert len(limiter) <= 10

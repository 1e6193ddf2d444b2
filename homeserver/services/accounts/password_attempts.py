"""Rate limits on password guessing, shared by login and user-interactive auth.

Failed password checks drain a bucket per account, wherever they come from (login, or a UIA
`m.login.password` stage), so alternating between them does not double an attacker's guesses.
UIA failures also drain a bucket per client IP; login attempts from an IP are limited by the
`login` bucket already. Only failures drain: a user typing the right password is never slowed
by their own successes. A check happens before the (slow) password hash is compared, together
with the caller's other buckets, so one 429 reports the longest wait of them all.
"""

from __future__ import annotations

from core.identifiers import UserId
from homeserver.services.common.ratelimit import Draw, Limit, RateLimiter

_PER_USER = "password_failure"
_PER_IP = "password_failure_ip"


class PasswordAttempts:
    """Counts failed password checks per account and per client IP."""

    def __init__(self, limiter: RateLimiter, failure_limit: Limit) -> None:
        self._limiter = limiter
        self._limit = failure_limit

    def check(self, user_id: UserId, client_ip: str | None, *others: Draw) -> None:
        """Refuse with 429 if the account or IP has no failure left, or any of `others` refuses.

        Raises:
            MatrixError: `M_LIMIT_EXCEEDED` with the longest wait of every refusing bucket.
        """
        self._limiter.check_all(*others, *self._draws(user_id, client_ip, cost=0))

    def failed(self, user_id: UserId, client_ip: str | None) -> None:
        """Record one failed password check for the account (and the IP, if given)."""
        self._limiter.check_all(*self._draws(user_id, client_ip, cost=1))

    def _draws(self, user_id: UserId, client_ip: str | None, cost: float) -> list[Draw]:
        draws = [Draw(_PER_USER, user_id, self._limit, cost)]
        if client_ip:
            draws.append(Draw(_PER_IP, client_ip, self._limit, cost))
        return draws

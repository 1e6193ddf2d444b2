"""`/.well-known/matrix/server` delegation lookups with a bounded cache.

Invariants:
- Only `https://<hostname>/.well-known/matrix/server` is asked; redirects (3xx) are followed by
  hand, at most `max_redirects`, only to https URLs, each hop's IP literal checked against the
  IP policy (names are checked by the session's resolver).
- Bodies over `max_bytes` are abandoned; the body goes through the strict JSON ingress and must
  hold an `m.server` that is a valid server name, or the answer counts as an error.
- A good answer is cached for its `Cache-Control: max-age` (or `Expires`), 24 hours when it
  says nothing, clamped to [5 minutes, 48 hours]; an error is cached for `error_ttl_s` so a
  broken server is not asked on every request. The cache holds at most `max_entries`
  hostnames, dropping the least recently used.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

import aiohttp
from yarl import URL

from core.errors import MatrixError
from core.identifiers import ServerName, parse_server_name
from core.json_ingress import parse_json_object
from federation.http_util import REDIRECT_STATUSES, BodyTooLargeError, read_limited
from federation.ip_policy import IpPolicy
from federation.ports import Clock

__all__ = ["WellKnownClient"]

logger = logging.getLogger(__name__)

_PATH: Final = "/.well-known/matrix/server"
DEFAULT_TTL_S: Final = 24 * 3600.0
MIN_TTL_S: Final = 5 * 60.0
MAX_TTL_S: Final = 48 * 3600.0


@dataclass(frozen=True, slots=True)
class _Entry:
    server: ServerName | None
    expires_at: float  # on the clock's monotonic scale


class _WellKnownError(Exception):
    """The lookup produced no usable delegation."""


class WellKnownClient:
    """Looks up and caches `.well-known` delegations."""

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        *,
        clock: Clock,
        policy: IpPolicy,
        max_entries: int = 10_000,
        max_bytes: int = 50 * 1024,
        max_redirects: int = 5,
        timeout_s: float = 10.0,
        error_ttl_s: float = 600.0,
    ) -> None:
        """Build the client.

        Args:
            session: Returns the HTTP session (whose connector enforces the IP policy).
            clock: For cache expiry (monotonic) and `Expires` (wall time).
            policy: Checks IP-literal redirect targets.
            max_entries: Cache bound.
            max_bytes: Largest body accepted.
            max_redirects: Most redirects followed.
            timeout_s: Deadline of one lookup.
            error_ttl_s: How long a failed lookup is remembered.
        """
        self._session = session
        self._clock = clock
        self._policy = policy
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._error_ttl_s = error_ttl_s
        self._cache: OrderedDict[str, _Entry] = OrderedDict()

    async def delegated_server(self, hostname: str) -> ServerName | None:
        """The server `hostname` delegates to, or None (no file, or an unusable one)."""
        now = self._clock.monotonic()
        entry = self._cache.get(hostname)
        if entry is not None and entry.expires_at > now:
            self._cache.move_to_end(hostname)
            return entry.server
        try:
            server, ttl = await self._fetch(hostname)
        except _WellKnownError as exc:
            logger.info("well-known lookup failed host=%s reason=%s", hostname, exc)
            server, ttl = None, self._error_ttl_s
        self._remember(hostname, _Entry(server, self._clock.monotonic() + ttl))
        return server

    def _remember(self, hostname: str, entry: _Entry) -> None:
        self._cache[hostname] = entry
        self._cache.move_to_end(hostname)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def _fetch(self, hostname: str) -> tuple[ServerName, float]:
        url = URL.build(scheme="https", host=hostname, path=_PATH)
        try:
            for _ in range(self._max_redirects + 1):
                if url.scheme != "https" or not url.host:
                    raise _WellKnownError("redirect to a non-https URL")
                self._policy.check_host(url.host)
                async with self._session().get(
                    url, allow_redirects=False, timeout=self._timeout
                ) as resp:
                    location = resp.headers.get("Location")
                    if resp.status in REDIRECT_STATUSES and location:
                        url = url.join(URL(location))
                        continue
                    if resp.status != 200:
                        raise _WellKnownError(f"status {resp.status}")
                    body = await read_limited(resp, self._max_bytes)
                    return _delegation(body), self._ttl(resp.headers)
        except (aiohttp.ClientError, TimeoutError, OSError, BodyTooLargeError) as exc:
            raise _WellKnownError(type(exc).__name__) from None
        raise _WellKnownError("too many redirects")

    def _ttl(self, headers: Mapping[str, str]) -> float:
        ttl = _ttl_from_headers(headers, self._clock.time_ms() / 1000)
        return min(max(DEFAULT_TTL_S if ttl is None else ttl, MIN_TTL_S), MAX_TTL_S)


def _delegation(body: bytes) -> ServerName:
    try:
        document = parse_json_object(body, max_bytes=len(body) + 1, floats=False)
    except MatrixError as exc:
        raise _WellKnownError(exc.message) from None
    server = document.get("m.server")
    if not isinstance(server, str):
        raise _WellKnownError("no m.server string")
    try:
        return parse_server_name(server)
    except ValueError as exc:
        raise _WellKnownError(f"bad m.server: {exc}") from None


def _ttl_from_headers(headers: Mapping[str, str], now_s: float) -> float | None:
    """Seconds the answer may be cached per `Cache-Control`/`Expires`; None if unsaid."""
    cache_control = headers.get("Cache-Control", "").lower()
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age" and value.strip().isdigit():
            return float(value.strip())
    expires = headers.get("Expires")
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp() - now_s
        except (TypeError, ValueError):
            return 0.0  # RFC 9111: an invalid Expires means already expired
    return None

"""Fetching untrusted URLs for previews without becoming an SSRF proxy.

Invariants:
- No connection is made to an address that is not globally routable (private, loopback,
  link-local, shared, multicast, reserved, unspecified; IPv4 and IPv6, including IPv4-mapped,
  6to4 and Teredo forms) unless it is in the configured allow-list. DNS names are checked after
  resolution by the connector's resolver, and a name with any blocked address is refused whole
  (no mixed answers for DNS rebinding); IP literals, which aiohttp does not resolve, are checked
  before the request.
- Redirects are followed by hand, at most `max_redirects`, each hop checked again; only http and
  https are fetched; no proxy from the environment, no cookies.
- Bodies are read in chunks and abandoned past `max_bytes`; the whole fetch has a deadline.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

__all__ = [
    "DestinationBlockedError",
    "FetchError",
    "FetchLimits",
    "Fetched",
    "IpPolicy",
    "SafeFetcher",
]

_USER_AGENT = "Tessera-URL-Preview/1.0 (Matrix homeserver)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """The URL could not be fetched (network, status, type or size)."""


class DestinationBlockedError(FetchError, OSError):
    """The URL leads to an address the policy refuses."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Size and time limits of one fetch (redirects included)."""

    max_bytes: int
    timeout_s: float
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched resource: where it ended up, its media type and charset, and its bytes."""

    url: str
    content_type: str
    charset: str | None
    body: bytes


class IpPolicy:
    """Which addresses outbound fetches may connect to."""

    def __init__(self, allowed: tuple[IPv4Network | IPv6Network, ...]) -> None:
        self._allowed = allowed

    def allows(self, address: str) -> bool:
        """Whether `address` (an IP literal, possibly with an IPv6 zone) may be contacted."""
        try:
            ip = ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        candidates: list[IPv4Address | IPv6Address] = [ip]
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if any(c in network for c in candidates for network in self._allowed):
            return True
        return _public(ip)


def _public(ip: IPv4Address | IPv6Address) -> bool:
    if isinstance(ip, IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None and not _public(embedded):
            return False
        if ip.teredo is not None:
            return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


class _GuardedResolver(AbstractResolver):
    """Resolves through the system resolver, refusing names with any blocked address."""

    def __init__(self, policy: IpPolicy) -> None:
        self._inner = ThreadedResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or not all(self._policy.allows(r["host"]) for r in results):
            raise DestinationBlockedError(f"{host} resolves to a blocked address")
        return results

    async def close(self) -> None:
        await self._inner.close()


class SafeFetcher:
    """An HTTP client for untrusted URLs; open lazily, close with `close()`."""

    def __init__(self, policy: IpPolicy, limits: FetchLimits) -> None:
        self._policy = policy
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=_GuardedResolver(self._policy), ttl_dns_cache=60, limit=20
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._limits.timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                headers={"User-Agent": _USER_AGENT, "Accept-Language": "en"},
            )
        return self._session

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Fetched:
        """GET `url`, following redirects by hand.

        Raises:
            DestinationBlockedError: A hop leads to a refused address.
            FetchError: Any other failure: bad scheme, network error, timeout, a status other
                than 200, too many redirects or a body over the limit.
        """
        limit = max_bytes if max_bytes is not None else self._limits.max_bytes
        current = URL(url)
        try:
            for _ in range(self._limits.max_redirects + 1):
                self._check_target(current)
                async with self._client().get(
                    current, allow_redirects=False, auto_decompress=True
                ) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        current = current.join(URL(resp.headers["Location"]))
                        continue
                    if resp.status != 200:
                        raise FetchError(f"status {resp.status}")
                    body = await _read_limited(resp, limit)
                    return Fetched(str(current), resp.content_type, resp.charset, body)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, DestinationBlockedError):
                raise exc.os_error from None
            raise FetchError("cannot connect") from None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FetchError(type(exc).__name__) from None
        raise FetchError("too many redirects")

    def _check_target(self, url: URL) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise FetchError("only http and https URLs are fetched")
        host = url.host
        try:
            ip_address(host.split("%", 1)[0])
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if not self._policy.allows(host):
            raise DestinationBlockedError(f"{host} is a blocked address")

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise FetchError("response too large")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise FetchError("response too large")
    return bytes(body)

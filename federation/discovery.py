"""Resolving server names (Server-Server API "Resolving server names").

`ServerResolver.resolve(server_name)` decides where a request for a server goes: the host to
connect to, the port, the `Host` header and the TLS server name (SNI and certificate name),
following the spec's steps in order:

1. An IP literal: that address, the given port or 8448; no SNI.
2. A hostname with an explicit port: that host and port; `Host` and SNI are the hostname.
3. Otherwise `/.well-known/matrix/server` names a delegated server, resolved the same way:
   an IP literal; a hostname with a port; else SRV `_matrix-fed._tcp`, then the deprecated
   `_matrix._tcp`, then port 8448. `Host` and SNI name the delegated hostname.
4. Without a usable `.well-known`: SRV `_matrix-fed._tcp`, then `_matrix._tcp`, then 8448,
   with `Host` and SNI naming the server's own hostname.

Addresses of hostnames are looked up later by the client's connector, where the IP policy
checks them. An override map (`{server_name: "127.0.0.1:port"}`) short-cuts all of this for
servers on one machine; the `Host` header and SNI still name the server.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Final, Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver

from core.identifiers import ServerName, parse_server_name

__all__ = [
    "DEFAULT_PORT",
    "DnsSrvResolver",
    "MappingSrvResolver",
    "ResolvedServer",
    "ServerResolver",
    "SrvRecord",
    "SrvResolver",
    "WellKnownLookup",
    "split_server_name",
]

logger = logging.getLogger(__name__)

DEFAULT_PORT: Final = 8448
_SRV_SERVICES: Final = ("_matrix-fed._tcp", "_matrix._tcp")


@dataclass(frozen=True, slots=True)
class ResolvedServer:
    """Where and how to send a request for one server name.

    Attributes:
        host: The name or IP address to connect to (IPv6 without brackets).
        port: The TCP port.
        host_header: The value of the HTTP `Host` header.
        tls_server_name: The name for TLS SNI and certificate checks; None for IP literals
            (the certificate must then be valid for the address).
    """

    host: str
    port: int
    host_header: str
    tls_server_name: str | None


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV answer."""

    priority: int
    weight: int
    port: int
    target: str


class SrvResolver(Protocol):
    """Looks up SRV records."""

    async def resolve_srv(self, name: str) -> Sequence[SrvRecord]:
        """The SRV records of `name` (e.g. `_matrix-fed._tcp.example.org`); empty if none."""
        ...


class WellKnownLookup(Protocol):
    """Fetches `/.well-known/matrix/server` (see `federation.well_known`)."""

    async def delegated_server(self, hostname: str) -> ServerName | None:
        """The `m.server` a hostname delegates to, or None when there is no usable answer."""
        ...


class DnsSrvResolver:
    """SRV lookups through dnspython's asynchronous resolver, with its TTL-aware cache.

    Every failure (no such name, no answer, no reachable name server, timeout) counts as "no
    records": the spec then moves on to the next step.
    """

    def __init__(
        self,
        *,
        lifetime_s: float = 10.0,
        cache_size: int = 10_000,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
    ) -> None:
        """Create the resolver lazily (the system configuration is read on first use).

        Args:
            lifetime_s: Deadline of one lookup.
            cache_size: Answers kept (each for its TTL).
            nameservers: Name server addresses instead of the system's (`/etc/resolv.conf`).
            port: The name servers' port.
        """
        self._lifetime_s = lifetime_s
        self._cache_size = cache_size
        self._nameservers = list(nameservers) if nameservers is not None else None
        self._port = port
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _dns(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            configure = self._nameservers is None
            resolver = dns.asyncresolver.Resolver(configure=configure)
            if self._nameservers is not None:
                resolver.nameservers = self._nameservers
            resolver.port = self._port
            resolver.cache = dns.resolver.LRUCache(self._cache_size)
            self._resolver = resolver
        return self._resolver

    async def resolve_srv(self, name: str) -> Sequence[SrvRecord]:
        """The SRV records of `name`; empty when DNS has none or cannot answer."""
        try:
            # Absolute, so no search domain of the host is ever appended.
            absolute = name if name.endswith(".") else f"{name}."
            answer = await self._dns().resolve(absolute, "SRV", lifetime=self._lifetime_s)
        except (dns.exception.DNSException, OSError) as exc:
            logger.debug("srv lookup failed name=%s error=%s", name, type(exc).__name__)
            return []
        return [
            SrvRecord(rr.priority, rr.weight, rr.port, rr.target.to_text(omit_final_dot=True))
            for rr in answer
        ]


class MappingSrvResolver:
    """SRV records from a fixed map (tests, and deployments that pin their peers)."""

    def __init__(self, records: Mapping[str, Sequence[SrvRecord]]) -> None:
        self._records = dict(records)

    async def resolve_srv(self, name: str) -> Sequence[SrvRecord]:
        """The records configured for `name`."""
        return self._records.get(name, ())


def split_server_name(server_name: str) -> tuple[str, int | None]:
    """Split `host[:port]` into the host (IPv6 without brackets) and the port, if any.

    Raises:
        ValueError: If `server_name` is not a valid server name.
    """
    parse_server_name(server_name)
    if server_name.startswith("["):
        end = server_name.index("]")
        rest = server_name[end + 1 :]
        return server_name[1:end], (int(rest[1:]) if rest else None)
    host, sep, port = server_name.partition(":")
    return host, (int(port) if sep else None)


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _pick_srv(records: Sequence[SrvRecord], rng: random.Random) -> SrvRecord | None:
    """RFC 2782 choice: the lowest priority, then weighted at random among equals."""
    usable = [r for r in records if r.target not in ("", ".")]
    if not usable:
        return None
    best = min(r.priority for r in usable)
    candidates = [r for r in usable if r.priority == best]
    total = sum(r.weight for r in candidates)
    if total == 0:
        return candidates[0]
    point = rng.uniform(0, total)
    for record in candidates:
        point -= record.weight
        if point <= 0:
            return record
    return candidates[-1]


class ServerResolver:
    """Turns server names into connection targets, per the spec."""

    def __init__(
        self,
        *,
        srv: SrvResolver,
        well_known: WellKnownLookup,
        overrides: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Build a resolver.

        Args:
            srv: SRV lookups.
            well_known: `.well-known` delegation lookups.
            overrides: `{server_name: "host:port"}` targets that skip discovery.
            rng: Randomness for SRV weights (seeded in tests).

        Raises:
            ValueError: If an override target is not `host:port`.
        """
        self._srv = srv
        self._well_known = well_known
        self._rng = rng or random.Random()  # noqa: S311 (load spreading, not security)
        self._overrides: dict[str, tuple[str, int]] = {}
        for name, target in (overrides or {}).items():
            host, port = split_server_name(target)
            if port is None:
                raise ValueError(f"override for {name} needs host:port, got {target!r}")
            self._overrides[name] = (host, port)

    async def resolve(self, server_name: str) -> ResolvedServer:
        """Where to send requests for `server_name`.

        Raises:
            ValueError: If `server_name` is not a valid server name.
        """
        hostname, port = split_server_name(server_name)
        override = self._overrides.get(server_name)
        if override is not None:
            sni = None if _is_ip(hostname) else hostname
            return ResolvedServer(override[0], override[1], server_name, sni)
        if _is_ip(hostname):
            return ResolvedServer(hostname, port or DEFAULT_PORT, server_name, None)
        if port is not None:
            return ResolvedServer(hostname, port, server_name, hostname)
        delegated = await self._well_known.delegated_server(hostname)
        if delegated is not None:
            return await self._resolve_delegated(delegated)
        return await self._resolve_by_srv(hostname)

    async def _resolve_delegated(self, delegated: str) -> ResolvedServer:
        hostname, port = split_server_name(delegated)
        if _is_ip(hostname):
            return ResolvedServer(hostname, port or DEFAULT_PORT, delegated, None)
        if port is not None:
            return ResolvedServer(hostname, port, delegated, hostname)
        return await self._resolve_by_srv(hostname)

    async def _resolve_by_srv(self, hostname: str) -> ResolvedServer:
        for service in _SRV_SERVICES:
            record = _pick_srv(await self._srv.resolve_srv(f"{service}.{hostname}"), self._rng)
            if record is not None:
                return ResolvedServer(record.target, record.port, hostname, hostname)
        return ResolvedServer(hostname, DEFAULT_PORT, hostname, hostname)

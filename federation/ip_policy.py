"""Which IP addresses outbound federation may connect to.

A remote server name is untrusted input: without a policy, a name (or its SRV record, or its
`.well-known` delegation, or a redirect) pointing at 127.0.0.1 or 10.0.0.5 would make us send
requests into our own network. `IpPolicy` refuses the deny ranges (by default everything that
is not globally routable: loopback, RFC 1918, link-local, CGNAT, multicast, reserved,
documentation ranges and their IPv6 equivalents) unless an address is in the allow ranges.
IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64) are judged
by the embedded address too.

`GuardedResolver` is the aiohttp resolver the federation client connects through: every name
is resolved, its refused addresses dropped, and a name with no permitted address fails with
`AddressBlockedError` before any connection. IP literals never reach a resolver in aiohttp, so
callers check them with `IpPolicy.check_host` before a request (and after every redirect).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Final

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "DEFAULT_DENYLIST",
    "AddressBlockedError",
    "GuardedResolver",
    "IpPolicy",
    "parse_ranges",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

DEFAULT_DENYLIST: Final[tuple[str, ...]] = (
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # RFC 1918
    "100.64.0.0/10",  # CGNAT (RFC 6598)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local
    "172.16.0.0/12",  # RFC 1918
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # TEST-NET-1
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # RFC 1918
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # TEST-NET-2
    "203.0.113.0/24",  # TEST-NET-3
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, broadcast
    "::/128",  # unspecified
    "::1/128",  # loopback
    "100::/64",  # discard-only
    "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID)
    "2001:db8::/32",  # documentation
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated)
    "ff00::/8",  # multicast
)
_NAT64: Final = IPv6Network("64:ff9b::/96")


class AddressBlockedError(OSError):
    """A destination resolves only to addresses the IP policy refuses."""


def parse_ranges(ranges: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDR ranges (or single addresses) from configuration.

    Raises:
        ValueError: Naming the first malformed range.
    """
    networks: list[IPNetwork] = []
    for text in ranges:
        try:
            networks.append(ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid IP range {text!r}: {exc}") from None
    return tuple(networks)


class IpPolicy:
    """Deny ranges with allow-listed exceptions; the allow list wins."""

    def __init__(
        self,
        denylist: Sequence[IPNetwork] | None = None,
        allowlist: Sequence[IPNetwork] = (),
    ) -> None:
        """Build a policy.

        Args:
            denylist: Ranges refused; `DEFAULT_DENYLIST` when None.
            allowlist: Exceptions, e.g. `127.0.0.0/8` for a test federation on one machine.
        """
        self._deny = tuple(denylist) if denylist is not None else parse_ranges(DEFAULT_DENYLIST)
        self._allow = tuple(allowlist)

    @classmethod
    def from_config(cls, denylist: Iterable[str] | None, allowlist: Iterable[str]) -> IpPolicy:
        """A policy from the `ip_range_denylist`/`ip_range_allowlist` strings.

        Raises:
            ValueError: Naming a malformed range.
        """
        deny = None if denylist is None else parse_ranges(denylist)
        return cls(deny, parse_ranges(allowlist))

    def allows(self, address: str | IPAddress) -> bool:
        """Whether `address` (an IP, possibly with an IPv6 `%zone`) may be contacted.

        Anything that is not an IP address is refused.
        """
        if isinstance(address, str):
            try:
                address = ip_address(address.split("%", 1)[0])
            except ValueError:
                return False
        forms = _forms(address)
        if any(form in net for form in forms for net in self._allow):
            return True
        return not any(form in net for form in forms for net in self._deny)

    def check_host(self, host: str) -> None:
        """Refuse an IP-literal host the policy denies; names pass (the resolver checks them).

        Raises:
            AddressBlockedError: If `host` is a refused IP literal.
        """
        literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            address = ip_address(literal.split("%", 1)[0])
        except ValueError:
            return
        if not self.allows(address):
            raise AddressBlockedError(f"{host} is a refused address")


def _forms(ip: IPAddress) -> list[IPAddress]:
    """`ip` and every IPv4 address embedded in it."""
    forms: list[IPAddress] = [ip]
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            forms.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            forms.append(ip.sixtofour)
        packed = ip.packed
        if ip in _NAT64 or (packed[:12] == bytes(12) and int(ip) > 1):
            # NAT64 and the deprecated IPv4-compatible form carry the IPv4 in the last 32 bits.
            forms.append(IPv4Address(packed[12:]))
    return forms


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that returns only addresses the policy allows."""

    def __init__(self, inner: AbstractResolver, policy: IpPolicy) -> None:
        """Wrap `inner` (the system resolver, or a static map in tests)."""
        self._inner = inner
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host`, dropping refused addresses.

        Raises:
            AddressBlockedError: If no permitted address remains.
        """
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._policy.allows(r["host"])]
        if not allowed:
            raise AddressBlockedError(f"{host} resolves to no permitted address")
        return allowed

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()

"""Which address a request comes from: the TCP peer, or what trusted proxies say it is.

`X-Forwarded-For` is read only when the peer is a configured trusted proxy, and then from the
right: each proxy appends the address it received from, so the right-most entry that is not
itself a trusted proxy is the client. Entries to its left were written by the client and may be
forged; an entry that is not an IP address ends the walk (the peer is used). Loopback and
private addresses are ordinary clients. An IPv4-mapped IPv6 address is given as IPv4.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

__all__ = ["client_address"]

Networks = Sequence[IPv4Network | IPv6Network]


def _normal(value: str) -> str | None:
    try:
        address = ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped if mapped is not None else address)


def _trusted(address: str, proxies: Networks) -> bool:
    parsed = ip_address(address)
    return any(parsed in network for network in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Networks) -> str:
    """The client's IP for a request from `peer` carrying `forwarded_for` (may be None)."""
    address = _normal(peer)
    if address is None:
        return peer
    if not proxies or not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed(forwarded_for.split(",")):
        entry = _normal(hop.strip())
        if entry is None:
            return address
        if not _trusted(entry, proxies):
            return entry
        address = entry
    return address

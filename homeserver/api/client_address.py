"""Which address a request comes from: the TCP peer, or what trusted proxies say it is.

`X-Forwarded-For` is read only when the peer is a configured trusted proxy, and then from the
right: each proxy appends the address it received from, so the right-most entry that is not
itself a trusted proxy is the client. Entries to its left were written by the client and may be
forged; an entry that is not an IP address ends the walk (the peer is used). Loopback and
private addresses are ordinary clients. An IPv4-mapped IPv6 address is given as IPv4.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

__all__ = ["client_address"]

Networks = Sequence[IPv4Network | IPv6Network]


def _parsed(value: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, proxies: Networks) -> bool:
    return any(address in network for network in proxies)


def client_address(peer: str, forwarded_for: str | None, proxies: Networks) -> str:
    """The client's IP for a request from `peer` carrying `forwarded_for` (may be None)."""
    address = _parsed(peer)
    if address is None:
        return peer
    if proxies and forwarded_for and _trusted(address, proxies):
        for hop in reversed(forwarded_for.split(",")):
            entry = _parsed(hop.strip())
            if entry is None:
                break
            address = entry
            if not _trusted(entry, proxies):
                break
    return str(address)

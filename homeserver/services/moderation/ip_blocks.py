"""The IP blocklist: addresses and CIDR networks refused on every endpoint, optionally until
an expiry time.

Blocks come from two places: the admin API (stored, with a reason and a source such as
`admin` or the moderation bot's name) and the IP rules of the policy rooms the server follows
(held while the rule stands, never stored). `blocking(ip)` answers from memory, so the check
runs before routing on every request at the cost of one dict lookup per prefix length in use
(blocks are indexed by their network's leading bits, most specific first); expired blocks stop
applying at their expiry by the injected clock and are deleted when next listed.

Invariants: a network is kept in canonical form (`parse_network`); an address is blocked if
any stored or policy block contains it (an IPv4-mapped IPv6 peer is its IPv4 address).
Single process: blocks made through another worker's API are seen after a restart.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from homeserver.clock import Clock
from homeserver.services.common.requester import Requester, require_admin
from homeserver.storage.moderation.ip_blocks import IpBlockRow, IpBlockStore

__all__ = ["IpBlock", "IpBlockService", "normal_ip", "parse_network"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAX_REASON: Final = 1000
_MAX_SOURCE: Final = 200
POLICY_SOURCE_PREFIX: Final = "policy:"


@dataclass(frozen=True, slots=True)
class IpBlock:
    """One block: what it covers, since when, until when, why and who made it."""

    network: Network
    blocked_at: int
    expires_at: int | None
    reason: str
    source: str

    @property
    def key(self) -> str:
        """The canonical text of the network (an address without its prefix length)."""
        return _network_text(self.network)

    def to_json(self) -> JsonDict:
        """The block as the admin API lists it."""
        return {
            "ip": self.key,
            "blocked_at": self.blocked_at,
            "expires_at": self.expires_at,
            "reason": self.reason,
            "source": self.source,
        }


def _network_text(network: Network) -> str:
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def parse_network(value: object) -> Network:
    """An IP address or CIDR network from untrusted input (`M_INVALID_PARAM` otherwise).

    Host bits set below the prefix (`10.0.0.1/8`) are refused rather than guessed at.
    """
    if not isinstance(value, str) or not 0 < len(value) <= 64 or value.strip() != value:
        raise MatrixError(M_INVALID_PARAM, "ip must be an IP address or CIDR network")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise MatrixError(
            M_INVALID_PARAM, "ip must be an IP address or CIDR network such as 10.0.0.0/8"
        ) from exc
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


def normal_ip(value: str) -> Address | None:
    """The address `value` names (an IPv4-mapped IPv6 address as IPv4), None if it is none."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class IpBlockService:
    """The blocklist in memory, its stored part kept in `IpBlockStore`."""

    def __init__(self, store: IpBlockStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._stored: dict[str, IpBlock] = {}
        self._policy: dict[str, IpBlock] = {}
        # IP version -> (host bits of the prefix, leading bits -> blocks), longest prefix first.
        self._index: dict[int, list[tuple[int, dict[int, list[IpBlock]]]]] = {}

    async def load(self) -> None:
        """Read the stored blocks (at start-up)."""
        rows = await self._store.all()
        self._stored = {}
        for row in rows:
            block = IpBlock(
                parse_network(row.network), row.blocked_at, row.expires_at, row.reason, row.source
            )
            self._stored[block.key] = block
        self._reindex()

    def blocking(self, ip: str) -> IpBlock | None:
        """The block in force for the client address `ip` (the most specific), if any."""
        if not self._index:
            return None
        address = normal_ip(ip)
        if address is None:
            return None
        now, bits = self._clock.time_ms(), int(address)
        for host_bits, blocks in self._index.get(address.version, ()):
            for block in blocks.get(bits >> host_bits, ()):
                if block.expires_at is None or block.expires_at > now:
                    return block
        return None

    async def list_blocks(self, requester: Requester) -> list[IpBlock]:
        """Every block in force, stored and from policy rooms (admins only)."""
        require_admin(requester)
        now = self._clock.time_ms()
        expired = [
            k for k, b in self._stored.items() if b.expires_at is not None and b.expires_at <= now
        ]
        if expired:
            await self._store.delete_expired(now)
            for key in expired:
                self._stored.pop(key, None)
            self._reindex()
        return sorted(
            [*self._stored.values(), *self._policy.values()], key=lambda b: (b.blocked_at, b.key)
        )

    async def add(self, requester: Requester, body: JsonDict) -> IpBlock:
        """Block `body["ip"]` (admins only): `reason`, optional `expires_at` (ms) or
        `duration_ms`, optional `source` (default `admin`). Replaces a block of the same network.
        """
        require_admin(requester)
        network = parse_network(body.get("ip"))
        reason = _text(body, "reason", "", _MAX_REASON)
        source = _text(body, "source", "admin", _MAX_SOURCE)
        if source.startswith(POLICY_SOURCE_PREFIX):
            raise MatrixError(M_INVALID_PARAM, "source may not start with 'policy:'")
        now = self._clock.time_ms()
        expires_at = _expiry(body, now)
        block = IpBlock(network, now, expires_at, reason, source)
        await self._store.put(
            IpBlockRow(block.key, block.blocked_at, block.expires_at, block.reason, block.source)
        )
        self._stored[block.key] = block
        self._reindex()
        return block

    async def remove(self, requester: Requester, value: object) -> None:
        """Lift the stored block of `value` (admins only); `M_NOT_FOUND` if there is none."""
        require_admin(requester)
        key = _network_text(parse_network(value))
        if key not in self._stored:
            if key in self._policy:
                raise MatrixError(
                    M_FORBIDDEN, f"{key} is blocked by a policy room rule: remove the rule there"
                )
            raise MatrixError(M_NOT_FOUND, f"{key} is not blocked")
        await self._store.delete(key)
        del self._stored[key]
        self._reindex()

    def set_policy_blocks(self, blocks: Iterable[IpBlock]) -> None:
        """Replace the blocks that come from policy rooms' IP rules."""
        self._policy = {}
        for block in blocks:
            self._policy.setdefault(block.key, block)
        self._reindex()

    def _reindex(self) -> None:
        tables: dict[tuple[int, int], dict[int, list[IpBlock]]] = {}
        for block in (*self._stored.values(), *self._policy.values()):
            network = block.network
            host_bits = network.max_prefixlen - network.prefixlen
            table = tables.setdefault((network.version, host_bits), {})
            table.setdefault(int(network.network_address) >> host_bits, []).append(block)
        index: dict[int, list[tuple[int, dict[int, list[IpBlock]]]]] = {}
        for (version, host_bits), table in sorted(tables.items()):
            index.setdefault(version, []).append((host_bits, table))
        self._index = index


def _text(body: JsonDict, key: str, default: str, limit: int) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or len(value) > limit:
        raise MatrixError(M_INVALID_PARAM, f"{key} must be a string of at most {limit} characters")
    return value


def _expiry(body: JsonDict, now: int) -> int | None:
    expires_at, duration = body.get("expires_at"), body.get("duration_ms")
    if expires_at is not None and duration is not None:
        raise MatrixError(M_INVALID_PARAM, "give expires_at or duration_ms, not both")
    for key, value in (("expires_at", expires_at), ("duration_ms", duration)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**53
        ):
            raise MatrixError(M_INVALID_PARAM, f"{key} must be a positive integer")
    if duration is not None:
        return int(now + duration)
    if expires_at is not None and expires_at <= now:
        raise MatrixError(M_INVALID_PARAM, "expires_at is in the past")
    return expires_at

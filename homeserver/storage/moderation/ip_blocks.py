"""The stored IP blocklist (`moderation_ip_blocks`), one row per canonical address or network.

Invariant: `network` is what `ipaddress` prints for the block (an address without a prefix
length, a network with one), so the same block is always the same key.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.storage.database import Database

__all__ = ["IpBlockRow", "IpBlockStore"]


@dataclass(frozen=True, slots=True)
class IpBlockRow:
    """One stored block."""

    network: str
    blocked_at: int
    expires_at: int | None
    reason: str
    source: str


class IpBlockStore:
    """Reads and writes the blocklist."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[IpBlockRow]:
        """Every stored block (expired ones included until deleted)."""
        rows = await self._db.fetch_all(
            "SELECT network, blocked_at, expires_at, reason, source FROM moderation_ip_blocks"
            " ORDER BY blocked_at, network"
        )
        return [
            IpBlockRow(
                network=row["network"],
                blocked_at=int(row["blocked_at"]),
                expires_at=None if row["expires_at"] is None else int(row["expires_at"]),
                reason=row["reason"],
                source=row["source"],
            )
            for row in rows
        ]

    async def put(self, block: IpBlockRow) -> None:
        """Add `block`, replacing a stored block of the same network."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM moderation_ip_blocks WHERE network = $1", block.network)
            await conn.execute(
                "INSERT INTO moderation_ip_blocks (network, blocked_at, expires_at, reason, source)"
                " VALUES ($1, $2, $3, $4, $5)",
                block.network,
                block.blocked_at,
                block.expires_at,
                block.reason,
                block.source,
            )

    async def delete(self, network: str) -> bool:
        """Remove the block of `network`; True if there was one."""
        return (
            await self._db.execute("DELETE FROM moderation_ip_blocks WHERE network = $1", network)
            > 0
        )

    async def delete_expired(self, now_ms: int) -> int:
        """Remove blocks whose expiry has passed; returns how many."""
        return await self._db.execute(
            "DELETE FROM moderation_ip_blocks WHERE expires_at IS NOT NULL AND expires_at <= $1",
            now_ms,
        )

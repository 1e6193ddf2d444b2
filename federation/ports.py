"""What the federation library needs from its host, declared as `Protocol`s.

The homeserver implements these (storage-backed key store, its clock); tests pass in-memory
fakes. Nothing here does I/O itself. The value types exchanged through the ports live here too,
so both sides agree on them without importing each other.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import VerifyKey

__all__ = [
    "EDU",
    "PDU",
    "Clock",
    "KeyStore",
    "NewOutbound",
    "OutboundQueue",
    "QueuedItem",
    "StoredServerKey",
]

PDU: Final = "pdu"
EDU: Final = "edu"


class Clock(Protocol):
    """Wall-clock milliseconds, monotonic seconds and sleeping (the homeserver's `Clock`)."""

    def time_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...


@dataclass(frozen=True, slots=True)
class StoredServerKey:
    """A remote server's verify key, as the keyring accepted it.

    Attributes:
        server_name: The server that owns the key.
        verify_key: The public key (its `key_id` is `ed25519:<version>`).
        valid_until_ts: Until when (ms since the epoch) signatures made with the key may be
            trusted: the document's `valid_until_ts` capped at 7 days after it was fetched,
            or the `expired_ts` of an old key.
        fetched_from: The server the document came from (the origin itself, or a notary).
    """

    server_name: ServerName
    verify_key: VerifyKey
    valid_until_ts: int
    fetched_from: ServerName

    @property
    def key_id(self) -> str:
        """`ed25519:<version>`."""
        return self.verify_key.key_id


class KeyStore(Protocol):
    """Durable cache of remote servers' verify keys (the keyring's memory across restarts)."""

    async def get_server_keys(
        self, server_name: ServerName, key_ids: Collection[str]
    ) -> Mapping[str, StoredServerKey]:
        """The stored keys of `server_name` among `key_ids`, by key ID (missing ones absent)."""
        ...

    async def put_server_keys(self, keys: Collection[StoredServerKey]) -> None:
        """Store `keys`; a stored key with the same server and key ID keeps the larger
        `valid_until_ts` of the two."""
        ...


@dataclass(frozen=True, slots=True)
class NewOutbound:
    """A PDU or EDU to queue for one destination.

    Attributes:
        destination: The server to send it to.
        kind: `PDU` or `EDU`.
        payload: The PDU as signed, or the EDU `{"edu_type": ..., "content": ...}`.
        room_id: The room of a PDU (for catch-up); None for EDUs.
    """

    destination: ServerName
    kind: str
    payload: JsonDict
    room_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """A queued PDU or EDU, with its place in the queue (`id`, increasing)."""

    id: int
    kind: str
    payload: JsonDict


class OutboundQueue(Protocol):
    """The transaction sender's durable queue, one ordered queue per destination."""

    async def add(self, items: Sequence[NewOutbound], now_ms: int) -> None:
        """Append `items` (in order) to their destinations' queues."""
        ...

    async def pending(
        self, destination: ServerName, pdu_limit: int, edu_limit: int
    ) -> list[QueuedItem]:
        """The oldest `pdu_limit` PDUs and `edu_limit` EDUs queued for `destination`,
        in queue order."""
        ...

    async def remove(self, destination: ServerName, ids: Collection[int]) -> None:
        """Delete the items `ids` of `destination` (they were delivered or given up)."""
        ...

    async def destinations(self) -> list[ServerName]:
        """Every destination with something queued."""
        ...

    async def pdu_count(self, destination: ServerName) -> int:
        """How many PDUs are queued for `destination`."""
        ...

    async def keep_latest_pdus(self, destination: ServerName) -> int:
        """Catch-up: drop every queued PDU of `destination` but the latest of each room;
        returns how many were dropped (the destination fills the gaps itself)."""
        ...

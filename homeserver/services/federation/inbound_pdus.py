"""The seam between the transaction handler and the inbound PDU pipeline.

`PUT /_matrix/federation/v1/send/{txnId}` (see `transactions`) validates the envelope and hands
the transaction's PDUs, as received, to an `InboundPdus`. The pipeline answers one entry per
PDU it could name: the event ID and None when the PDU was handled without error (accepted,
soft-failed or already known), or a short error string when it was rejected. It must never
raise because of one PDU; the transaction handler turns an unexpected exception into an
error for every PDU of the transaction anyway.

`UnsupportedPdus` is the answer until a pipeline is wired: every PDU is refused politely.
"""

from __future__ import annotations

from typing import Final, Protocol

from core.errors import JsonDict
from core.hashes import compute_event_id
from core.identifiers import ServerName
from core.room_versions import RoomVersion, get_room_version

__all__ = ["NOT_SUPPORTED", "InboundPdus", "UnsupportedPdus"]

NOT_SUPPORTED: Final = "not supported"


class InboundPdus(Protocol):
    """Handles the PDUs of one inbound transaction."""

    async def handle_transaction_pdus(
        self, origin: ServerName, pdus: list[JsonDict]
    ) -> dict[str, str | None]:
        """Check and persist `pdus` sent by `origin`, in order.

        Args:
            origin: The authenticated server that sent the transaction.
            pdus: The PDUs as received (each a JSON object of at most 65,536 bytes).

        Returns:
            `{event_id: None}` for a PDU handled without error and `{event_id: "reason"}` for
            one that was rejected; a PDU whose event ID cannot be computed may be left out.
        """
        ...


class UnsupportedPdus:
    """An `InboundPdus` that refuses every PDU with "not supported" (no pipeline wired)."""

    def __init__(self, room_version: RoomVersion | None = None) -> None:
        """Name PDUs by their event ID in `room_version` (version 11 when None): the versions
        we serve all derive event IDs from the reference hash."""
        version = room_version or get_room_version("11")
        if version is None:
            raise ValueError("room version 11 is not known")
        self._version = version

    async def handle_transaction_pdus(
        self, origin: ServerName, pdus: list[JsonDict]
    ) -> dict[str, str | None]:
        """Answer "not supported" for each PDU."""
        results: dict[str, str | None] = {}
        for pdu in pdus:
            try:
                event_id = compute_event_id(pdu, self._version)
            except (ValueError, TypeError, KeyError):
                continue
            results[event_id] = NOT_SUPPORTED
        return results

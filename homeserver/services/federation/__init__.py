"""Federation domain logic: our server keys and the notary, inbound request authentication,
the queries other servers make of us and we make of them, inbound transactions and what we
send to other servers.

`FederationServices` groups them for the API; the outbound client and the keyring come from
the `federation` library, built in `homeserver.app.wiring.federation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from homeserver.services.federation.backfill import RoomBackfill
from homeserver.services.federation.device_updates import DeviceListAnnouncer
from homeserver.services.federation.edus import EduHandler
from homeserver.services.federation.event_reads import EventReads
from homeserver.services.federation.inbound_auth import InboundAuth
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.invites import Invites
from homeserver.services.federation.membership_served import MembershipHandshakes
from homeserver.services.federation.outbound import OutboundFederation
from homeserver.services.federation.queries import FederationQueryService
from homeserver.services.federation.remote_membership import FederatedRooms
from homeserver.services.federation.server_keys import ServerKeysService
from homeserver.services.federation.timestamps import EventTimestamps
from homeserver.services.federation.transactions import TransactionService

__all__ = ["FederationServices"]


class _Closable(Protocol):
    async def close(self) -> None:
        """Release the connections."""
        ...


@dataclass(frozen=True, slots=True)
class FederationServices:
    """The federation domain's services.

    Attributes:
        enabled: Whether federation is on (`federation.enabled`).
        keys: Our key document and notary answers.
        auth: X-Matrix checks of inbound requests.
        queries: Answers to other servers' profile and directory queries.
        serve_well_known: The `m.server` published in `/.well-known/matrix/server`, if any.
        client: The outbound client, closed on shutdown (None when federation is off).
        transactions: Applies inbound transactions.
        edus: Applies inbound EDUs (device-list ones through the e2ee domain's cache).
        outbound: Sends our events and EDUs (None when federation is off).
        device_updates: Tells other servers of our users' device changes (None when off).
        inbound: The inbound PDU pipeline (also the transactions' `InboundPdus`).
        handshakes: make/send join and leave, served to other servers.
        invites: Invites of our users by other servers, and co-signing ours.
        reads: Events and state served to other servers.
        remote_rooms: Joining and leaving rooms on other servers (None when off).
        timestamps: The event nearest a time, for clients (other servers asked when our
            history of the room falls short).
        backfill: A room's older history fetched from other servers (None when off).
    """

    enabled: bool
    keys: ServerKeysService
    auth: InboundAuth
    queries: FederationQueryService
    serve_well_known: str | None
    client: _Closable | None
    transactions: TransactionService
    edus: EduHandler
    outbound: OutboundFederation | None
    device_updates: DeviceListAnnouncer | None
    inbound: InboundEvents
    handshakes: MembershipHandshakes
    invites: Invites
    reads: EventReads
    remote_rooms: FederatedRooms | None
    timestamps: EventTimestamps
    backfill: RoomBackfill | None = None

    async def close(self) -> None:
        """Close the outbound connections."""
        if self.client is not None:
            await self.client.close()

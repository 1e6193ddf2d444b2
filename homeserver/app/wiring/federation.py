"""Wiring the federation domain: the outbound client and keyring from the `federation`
library, on our storage (`KeyStore`) and clock, and the services the federation API uses.

Built in two steps because of the direction of dependencies: `build_outbound` comes first (the
profile service and the room directory ask remote servers through its `RemoteQueries`), and
`build_federation` last (it answers other servers from the profile service and the directory).
With `federation.enabled` false there is no client at all: no request ever leaves the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.identifiers import ServerName, parse_server_name
from core.signing import SigningKey, decode_verify_key
from federation.client import ClientSettings, FederationClient
from federation.ip_policy import IpPolicy
from federation.keyring import Keyring, Notary
from federation.sender import TransactionSender
from homeserver.app.wiring.ephemeral import EphemeralServices
from homeserver.app.wiring.shared import Shared
from homeserver.config import Config
from homeserver.keyfile import load_old_verify_keys
from homeserver.services.accounts.profile import ProfileService
from homeserver.services.federation import FederationServices
from homeserver.services.federation.backfill import RoomBackfill
from homeserver.services.federation.device_updates import DeviceListAnnouncer
from homeserver.services.federation.edus import EduHandler, RemoteDeviceUpdates
from homeserver.services.federation.event_reads import EventReads
from homeserver.services.federation.inbound_auth import InboundAuth
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.invites import Invites
from homeserver.services.federation.membership_served import MembershipHandshakes
from homeserver.services.federation.outbound import OutboundFederation
from homeserver.services.federation.pdu_checks import PduVerifier
from homeserver.services.federation.queries import FederationQueryService, RemoteQueries
from homeserver.services.federation.remote_membership import FederatedRooms, RemoteMembership
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.federation.server_acls import ServerAcls
from homeserver.services.federation.server_keys import ServerKeysService
from homeserver.services.federation.timestamps import EventTimestamps
from homeserver.services.federation.transactions import TransactionService
from homeserver.services.rooms.directory import DirectoryService
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.services.rooms.redaction import RedactionService
from homeserver.services.rooms.restricted_joins import RestrictedJoins
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.storage.factory import Stores

__all__ = ["FederationOutbound", "build_federation", "build_outbound"]


@dataclass(frozen=True, slots=True)
class FederationOutbound:
    """What talks to other servers: the client, the keyring on it, the remote queries, and
    our key service (whose keys the keyring knows without asking)."""

    client: FederationClient
    keyring: Keyring
    queries: RemoteQueries
    keys: ServerKeysService
    sender: TransactionSender


def _key_service(
    config: Config,
    stores: Stores,
    shared: Shared,
    signing_key: SigningKey,
    client: FederationClient | None,
) -> ServerKeysService:
    return ServerKeysService(
        server_name=shared.server_name,
        signing_key=signing_key,
        old_keys=load_old_verify_keys(config.signing_key_file),
        clock=shared.clock,
        store=stores.server_keys,
        fetcher=client,
    )


def build_outbound(
    config: Config, stores: Stores, shared: Shared, signing_key: SigningKey
) -> FederationOutbound | None:
    """The outbound client and keyring, or None when federation is off."""
    fed = config.federation
    if not fed.enabled:
        return None
    allowlist = fed.domain_allowlist
    settings = ClientSettings(
        server_name=shared.server_name,
        ca_certificates_path=str(fed.ca_certificates_path) if fed.ca_certificates_path else None,
        verify_certificates=fed.verify_certificates,
        overrides=dict(fed.resolve_overrides),
        domain_allowlist=frozenset(allowlist) if allowlist is not None else None,
    )
    policy = IpPolicy.from_config(fed.ip_range_denylist, fed.ip_range_allowlist)
    client = FederationClient(settings, signing_key, clock=shared.clock, policy=policy)
    notaries = [
        Notary(
            parse_server_name(notary.server_name),
            {key_id: decode_verify_key(key_id, key) for key_id, key in notary.verify_keys.items()},
        )
        for notary in fed.trusted_key_servers
    ]
    keys = _key_service(config, stores, shared, signing_key, client)
    keyring = Keyring(
        store=stores.server_keys,
        client=client,
        clock=shared.clock,
        local_keys=keys.local_keys(),
        notaries=notaries,
    )
    sender = TransactionSender(
        origin=shared.server_name,
        queue=stores.federation_outbox,
        transport=client,
        clock=shared.clock,
    )
    return FederationOutbound(
        client=client, keyring=keyring, queries=RemoteQueries(client), keys=keys, sender=sender
    )


def build_federation(
    config: Config,
    stores: Stores,
    shared: Shared,
    signing_key: SigningKey,
    outbound: FederationOutbound | None,
    *,
    profile: ProfileService,
    directory: DirectoryService,
    ephemeral: EphemeralServices,
    events_position: int,
    room_events: EventService,
    redactions: RedactionService,
    remote_devices: RemoteDeviceUpdates,
    visibility: VisibilityService,
    expiry: EventExpiry | None = None,
) -> FederationServices:
    """The services the federation API calls (expired events are only ever sent or served
    redacted: `expiry`)."""
    fed = config.federation
    client = outbound.client if outbound is not None else None
    keys = outbound.keys if outbound is not None else None
    allowlist = fed.domain_allowlist
    sending = (
        OutboundFederation(
            server_name=shared.server_name,
            sender=outbound.sender,
            store=stores.federation_outbox,
            events=stores.events,
            clock=shared.clock,
            start_position=events_position,
            expiry=expiry,
        )
        if outbound is not None
        else None
    )
    acls = ServerAcls(events=room_events)
    edus = EduHandler(
        typing=ephemeral.typing,
        receipts=ephemeral.receipts,
        presence=ephemeral.presence,
        to_device=ephemeral.to_device,
        events=stores.events,
        devices=remote_devices,
        clock=shared.clock,
        acls=acls,
    )
    rooms = _room_federation(
        stores, shared, signing_key, outbound, room_events, acls, redactions, expiry
    )
    return FederationServices(
        enabled=fed.enabled,
        keys=keys or _key_service(config, stores, shared, signing_key, None),
        auth=InboundAuth(
            server_name=ServerName(shared.server_name),
            verifier=outbound.keyring if outbound is not None else None,
            clock=shared.clock,
            limiter=shared.limiter,
            limit=fed.inbound_rate_limit,
            domain_allowlist=frozenset(allowlist) if allowlist is not None else None,
            origin_seen=sending.retry_now if sending is not None else None,
        ),
        queries=FederationQueryService(
            server_name=shared.server_name, profile=profile, directory=directory
        ),
        serve_well_known=fed.serve_well_known,
        client=client,
        transactions=TransactionService(
            store=stores.federation_inbound,
            edus=edus,
            clock=shared.clock,
            pdus=rooms.inbound,
        ),
        edus=edus,
        outbound=sending,
        device_updates=_device_updates(stores, shared, outbound),
        inbound=rooms.inbound,
        handshakes=rooms.handshakes,
        invites=rooms.invites,
        reads=rooms.reads,
        remote_rooms=rooms.remote_rooms,
        backfill=rooms.backfill,
        timestamps=EventTimestamps(
            history=stores.history,
            visibility=visibility,
            backfill=rooms.backfill,
            requests=rooms.requests,
        ),
    )


def _device_updates(
    stores: Stores, shared: Shared, outbound: FederationOutbound | None
) -> DeviceListAnnouncer | None:
    """What tells other servers of our users' device changes (None when federation is off)."""
    if outbound is None:
        return None
    return DeviceListAnnouncer(
        server_name=shared.server_name,
        sender=outbound.sender,
        announcements=stores.device_announcements,
        devices=stores.devices,
        keys=stores.e2e_keys,
        cross_signing=stores.cross_signing,
        events=stores.events,
    )


@dataclass(frozen=True, slots=True)
class _RoomFederation:
    inbound: InboundEvents
    handshakes: MembershipHandshakes
    invites: Invites
    reads: EventReads
    remote_rooms: FederatedRooms | None
    backfill: RoomBackfill | None
    requests: RemoteRequests | None


def _room_federation(
    stores: Stores,
    shared: Shared,
    signing_key: SigningKey,
    outbound: FederationOutbound | None,
    events: EventService,
    acls: ServerAcls,
    redactions: RedactionService,
    expiry: EventExpiry | None,
) -> _RoomFederation:
    """Rooms across servers: the inbound pipeline, the handshakes, invites and reads."""
    server_name, clock = ServerName(shared.server_name), shared.clock
    verifier = PduVerifier(outbound.keyring if outbound is not None else None)
    requests = RemoteRequests(outbound.client) if outbound is not None else None
    inbound = InboundEvents(
        events=events,
        store=stores.events,
        remote_store=stores.remote_events,
        verifier=verifier,
        requests=requests,
        acls=acls,
        redactions=redactions,
        clock=clock,
    )
    invites = Invites(
        server_name=server_name,
        signing_key=signing_key,
        events=events,
        store=stores.events,
        inbound=inbound,
        verifier=verifier,
        requests=requests,
    )
    remote_rooms, backfill = None, None
    if outbound is not None and requests is not None:
        membership = RemoteMembership(
            server_name=server_name,
            events=events,
            store=stores.events,
            inbound=inbound,
            requests=requests,
            verifier=verifier,
            clock=clock,
        )
        remote_rooms = FederatedRooms(membership, invites, outbound.queries)
        backfill = RoomBackfill(
            server_name=server_name,
            events=events,
            store=stores.events,
            history=stores.history,
            remote_store=stores.remote_events,
            inbound=inbound,
            verifier=verifier,
            requests=requests,
        )
    return _RoomFederation(
        inbound=inbound,
        handshakes=MembershipHandshakes(
            server_name=server_name,
            signing_key=signing_key,
            events=events,
            store=stores.events,
            remote_store=stores.remote_events,
            inbound=inbound,
            verifier=verifier,
            restricted=RestrictedJoins(server_name=server_name, store=stores.events),
            clock=clock,
        ),
        invites=invites,
        reads=EventReads(
            server_name=server_name,
            events=events,
            inbound=inbound,
            history=stores.history,
            room_reads=stores.room_reads,
            clock=clock,
            expiry=expiry,
        ),
        remote_rooms=remote_rooms,
        backfill=backfill,
        requests=requests,
    )

"""Wiring the rooms domain: event creation, membership, room creation and the read paths."""

from __future__ import annotations

from dataclasses import dataclass

from core.room_versions import KNOWN_ROOM_VERSIONS
from core.signing import SigningKey
from homeserver.app.wiring.retention_stores import RetentionStores, retention_limits
from homeserver.app.wiring.shared import Shared
from homeserver.config import Config
from homeserver.services.rooms.creation import RoomService
from homeserver.services.rooms.directory import DirectoryService, RemoteAliases
from homeserver.services.rooms.event_serializer import EventSerializer
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.messages import MessageService
from homeserver.services.rooms.pagination import PaginationService
from homeserver.services.rooms.reads import RoomReadService
from homeserver.services.rooms.redaction import RedactionService
from homeserver.services.rooms.restricted_joins import RestrictedJoins
from homeserver.services.rooms.room_list import RemoteRoomDirectory, RoomListService
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class RoomServices:
    """The rooms domain's services."""

    events: EventService
    membership: MembershipService
    rooms: RoomService
    messages: MessageService
    visibility: VisibilityService
    room_reads: RoomReadService
    pagination: PaginationService
    redaction: RedactionService
    directory: DirectoryService
    room_list: RoomListService
    serializer: EventSerializer
    lookup: StateLookup
    expiry: EventExpiry


def build_rooms(
    config: Config,
    stores: Stores,
    shared: Shared,
    signing_key: SigningKey,
    retention: RetentionStores,
    remote_aliases: RemoteAliases | None = None,
    remote_rooms: RemoteRoomDirectory | None = None,
) -> RoomServices:
    """The one event creator and everything built on it (remote aliases resolved through
    `remote_aliases`, other servers' room directories read through `remote_rooms`, when
    federation is on; expiry read from the `retention` stores)."""
    server_name, limiter = shared.server_name, shared.limiter
    events = EventService(
        server_name=server_name,
        signing_key=signing_key,
        store=stores.events,
        notifier=shared.notifier,
        recent=shared.recent,
        clock=shared.clock,
        caches=shared.caches,
    )
    membership = MembershipService(
        events=events,
        store=stores.events,
        aliases=stores.aliases,
        profiles=stores.profiles,
        limiter=limiter,
        join_limit=config.rate_limits.join,
        server_name=server_name,
        restricted=RestrictedJoins(server_name=server_name, store=stores.events),
    )
    expiry = EventExpiry(
        limits=retention_limits(config),
        events=events,
        timers=retention.tracking,
        purges=retention.purges,
        clock=shared.clock,
        caches=shared.caches,
    )
    reads = _read_paths(config, stores, shared, events, expiry)
    visibility, room_reads, pagination, redaction, serializer, lookup = reads
    return RoomServices(
        events=events,
        membership=membership,
        rooms=RoomService(
            server_name=server_name,
            events=events,
            membership=membership,
            store=stores.events,
            aliases=stores.aliases,
            clock=shared.clock,
            default_version=KNOWN_ROOM_VERSIONS[config.default_room_version],
        ),
        messages=MessageService(events, limiter, config.rate_limits.message),
        visibility=visibility,
        room_reads=room_reads,
        pagination=pagination,
        redaction=redaction,
        serializer=serializer,
        lookup=lookup,
        expiry=expiry,
        directory=DirectoryService(
            server_name=server_name,
            aliases=stores.aliases,
            directory=stores.directory,
            store=stores.events,
            events=events,
            remote=remote_aliases,
        ),
        room_list=RoomListService(
            server_name=server_name, store=stores.directory, remote=remote_rooms
        ),
    )


def _read_paths(
    config: Config, stores: Stores, shared: Shared, events: EventService, expiry: EventExpiry
) -> tuple[
    VisibilityService,
    RoomReadService,
    PaginationService,
    RedactionService,
    EventSerializer,
    StateLookup,
]:
    """The room read paths, all sharing one state lookup cache and one visibility filter
    (which drops expired events first)."""
    lookup = StateLookup(stores.room_reads, shared.caches)
    visibility = VisibilityService(
        store=stores.room_reads,
        lookup=lookup,
        events=events,
        caches=shared.caches,
        expiry=expiry,
    )
    serializer = EventSerializer(store=stores.room_reads, lookup=lookup, clock=shared.clock)
    room_reads = RoomReadService(
        store=stores.room_reads,
        state_store=stores.events,
        events=events,
        lookup=lookup,
        visibility=visibility,
        serializer=serializer,
    )
    pagination = PaginationService(
        store=stores.room_reads,
        state_store=stores.events,
        lookup=lookup,
        visibility=visibility,
        serializer=serializer,
    )
    redaction = RedactionService(
        events=events,
        event_store=stores.events,
        store=stores.room_reads,
        visibility=visibility,
        serializer=serializer,
        limiter=shared.limiter,
        message_limit=config.rate_limits.message,
    )
    return visibility, room_reads, pagination, redaction, serializer, lookup

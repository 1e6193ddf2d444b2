"""Wiring the retention domain: the tracker, the purge and its jobs.

The purge
reaches the search index and the media repository through the ports of
`services.retention.ports`, bound here to the search indexer (only while search is on: a
stopped indexer would hold every purge back) and to the media admin service.
"""

from __future__ import annotations

from core.identifiers import ServerName
from homeserver.app.wiring.retention_stores import RetentionStores
from homeserver.app.wiring.rooms import RoomServices
from homeserver.app.wiring.shared import Shared
from homeserver.config import Config
from homeserver.services.media.admin import MediaAdminService
from homeserver.services.retention import RetentionServices
from homeserver.services.retention.policy import RetentionPolicyJob
from homeserver.services.retention.ports import SearchIndexPort
from homeserver.services.retention.purger import Purger
from homeserver.services.retention.room_lifetimes import RoomLifetimes
from homeserver.services.retention.self_destruct import SelfDestructJob
from homeserver.services.retention.service import RetentionService
from homeserver.services.retention.tracker import RetentionTracker
from homeserver.storage.factory import Stores

__all__ = ["build_retention"]


def build_retention(
    config: Config,
    stores: Stores,
    retention: RetentionStores,
    shared: Shared,
    rooms: RoomServices,
    *,
    search: SearchIndexPort | None,
    media: MediaAdminService,
) -> RetentionServices:
    """The tracker, the purge and the jobs (search is None while search is off)."""
    self_destruct: SelfDestructJob | None = None

    def wake_timers() -> None:
        if self_destruct is not None:
            self_destruct.wake()

    tracker = RetentionTracker(
        store=retention.tracking, reads=stores.room_reads, clock=shared.clock, on_timer=wake_timers
    )
    purger = Purger(
        events=rooms.events,
        event_store=stores.events,
        reads=stores.room_reads,
        store=retention.purges,
        notifier=shared.notifier,
        clock=shared.clock,
        search=search,
        media=media,
        tracked=tracker.position,
        outbox=stores.federation_outbox if config.federation.enabled else None,
    )
    self_destruct = SelfDestructJob(
        server_name=ServerName(shared.server_name),
        timers=retention.tracking,
        purger=purger,
        redaction=rooms.redaction,
        clock=shared.clock,
    )
    policy = RetentionPolicyJob(
        expiry=rooms.expiry,
        store=retention.purges,
        timers=retention.tracking,
        purger=purger,
        clock=shared.clock,
    )
    cfg = config.retention
    lifetimes = RoomLifetimes(
        server_name=shared.server_name,
        dm_lifetime_ms=cfg.dm_room_lifetime_ms if cfg.enabled else None,
        store=retention.lifetimes,
        purges=retention.purges,
        purger=purger,
        events=rooms.events,
        membership=rooms.membership,
        aliases=stores.aliases,
        clock=shared.clock,
    )
    service = RetentionService(
        policy=policy,
        rooms=lifetimes,
        expiry=rooms.expiry,
        lifetimes=retention.lifetimes,
        reads=stores.room_reads,
        clock=shared.clock,
        interval_ms=cfg.purge_interval_ms,
    )
    return RetentionServices(
        service=service,
        tracker=tracker,
        self_destruct=self_destruct,
        purger=purger,
        policy=policy,
        rooms=lifetimes,
        enabled=cfg.enabled,
    )

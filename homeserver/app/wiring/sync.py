"""Wiring `/sync`: the service that gathers every other domain's news for a client."""

from __future__ import annotations

from homeserver.app.wiring.e2ee import E2eeServices
from homeserver.app.wiring.ephemeral import EphemeralServices
from homeserver.app.wiring.push import PushServices
from homeserver.app.wiring.rooms import RoomServices
from homeserver.app.wiring.shared import Shared
from homeserver.services.e2ee.sync_source import E2eSyncSource
from homeserver.services.sync.service import EphemeralSources, SyncService
from homeserver.storage.factory import Stores


def build_sync(
    stores: Stores,
    shared: Shared,
    rooms: RoomServices,
    ephemeral: EphemeralServices,
    push: PushServices,
    e2ee: E2eeServices,
) -> SyncService:
    """The sync service over the rooms, ephemeral, push and e2ee sources."""
    return SyncService(
        store=stores.sync,
        account_data=stores.account_data,
        events=rooms.events,
        recent=shared.recent,
        notifier=shared.notifier,
        ephemeral=EphemeralSources(
            typing=ephemeral.typing, receipts=ephemeral.receipts, presence=ephemeral.presence
        ),
        visibility=rooms.visibility,
        clock=shared.clock,
        caches=shared.caches,
        unread=push.notifications,
        push_rules=push.push_rules,
        devices=E2eSyncSource(
            keys=e2ee.e2e_keys,
            device_lists=e2ee.device_lists,
            to_device=ephemeral.to_device,
            recent=shared.recent,
        ),
    )

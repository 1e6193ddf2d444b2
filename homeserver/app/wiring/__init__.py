"""Wiring every service from the configuration and the stores (the composition root's core).

One builder per service domain (`accounts`, `rooms`, `ephemeral`, `push`, `e2ee`, `media`,
`search`, `retention`, `sync`, `federation`), each returning a frozen record of its domain's services; `build_services` calls them
in dependency order, assembles the `Services` record and connects the signals in
`subscriptions`. `homeserver.app` stays the composition root that calls this.
"""

from __future__ import annotations

from core.signing import SigningKey
from homeserver.app.wiring.accounts import build_accounts
from homeserver.app.wiring.e2ee import build_e2ee
from homeserver.app.wiring.ephemeral import build_ephemeral
from homeserver.app.wiring.federation import build_federation, build_outbound
from homeserver.app.wiring.media import build_media
from homeserver.app.wiring.push import build_push
from homeserver.app.wiring.retention import build_retention
from homeserver.app.wiring.retention_stores import retention_stores
from homeserver.app.wiring.rooms import build_rooms
from homeserver.app.wiring.search import build_search
from homeserver.app.wiring.shared import build_shared, request_limits, server_info
from homeserver.app.wiring.subscriptions import subscriptions
from homeserver.app.wiring.sync import build_sync
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.services.container import Services
from homeserver.storage.factory import Stores

__all__ = ["build_services", "subscriptions"]


def build_services(
    config: Config,
    stores: Stores,
    clock: Clock,
    signing_key: SigningKey,
    events_position: int = 0,
) -> Services:
    """Wire every service from the configuration and the stores, signals connected."""
    shared = build_shared(config, clock, stores.caches, events_position)
    outbound = build_outbound(config, stores, shared, signing_key)
    remote = outbound.queries if outbound is not None else None
    acc = build_accounts(config, stores, shared, remote)
    kept = retention_stores(stores.db)
    rooms = build_rooms(config, stores, shared, signing_key, kept, remote, remote)
    ephemeral = build_ephemeral(stores, shared)
    push = build_push(stores, shared, rooms.events, rooms.expiry)
    e2ee = build_e2ee(stores, shared, acc.ui_auth, outbound.client if outbound else None)
    search = build_search(config, stores, shared, rooms)
    media = build_media(config, stores, shared, outbound.client if outbound is not None else None)
    retention = build_retention(
        config,
        stores,
        kept,
        shared,
        rooms,
        search=search.search_index if config.search.enabled else None,
        media=media.media_admin,
    )
    services = Services(
        info=server_info(config, shared),
        clock=clock,
        limiter=shared.limiter,
        limits=request_limits(config),
        caches=shared.caches,
        notifier=shared.notifier,
        tokens=acc.tokens,
        accounts=acc.accounts,
        login=acc.login,
        devices=acc.devices,
        profile=acc.profile,
        account_data=acc.account_data,
        filters=acc.filters,
        openid=acc.openid,
        user_directory=acc.user_directory,
        events=rooms.events,
        membership=rooms.membership,
        rooms=rooms.rooms,
        messages=rooms.messages,
        visibility=rooms.visibility,
        room_reads=rooms.room_reads,
        pagination=rooms.pagination,
        redaction=rooms.redaction,
        directory=rooms.directory,
        room_list=rooms.room_list,
        typing=ephemeral.typing,
        receipts=ephemeral.receipts,
        presence=ephemeral.presence,
        to_device=ephemeral.to_device,
        push_rules=push.push_rules,
        notifications=push.notifications,
        media=media.media,
        media_admin=media.media_admin,
        url_previews=media.url_previews,
        e2e_keys=e2ee.e2e_keys,
        device_lists=e2ee.device_lists,
        remote_devices=e2ee.remote_devices,
        federation_keys=e2ee.federation_keys,
        cross_signing=e2ee.cross_signing,
        key_backup=e2ee.key_backup,
        search=search.search,
        search_index=search.search_index,
        retention=retention,
        sync=build_sync(stores, shared, rooms, ephemeral, push, e2ee),
        federation=build_federation(
            config,
            stores,
            shared,
            signing_key,
            outbound,
            profile=acc.profile,
            directory=rooms.directory,
            ephemeral=ephemeral,
            events_position=events_position,
            room_events=rooms.events,
            redactions=rooms.redaction,
            visibility=rooms.visibility,
            remote_devices=e2ee.remote_devices,
            expiry=rooms.expiry,
        ),
    )
    if services.federation.remote_rooms is not None:
        rooms.membership.use_remote(services.federation.remote_rooms)
    if services.federation.backfill is not None:
        rooms.pagination.use_history(services.federation.backfill)
    subscriptions(services)
    return services

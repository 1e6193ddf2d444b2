"""Wiring every service from the configuration and the stores (the composition root's core)."""

from __future__ import annotations

import ipaddress
import logging

from core.identifiers import ServerName, parse_server_name
from core.signing import SigningKey
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.accounts.accounts import AccountService
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.filters import FilterService
from homeserver.services.accounts.login import JwtSettings, LoginService
from homeserver.services.accounts.password_attempts import PasswordAttempts
from homeserver.services.accounts.profile import ProfileService
from homeserver.services.accounts.tokens import TokenService
from homeserver.services.accounts.ui_auth import UiAuthService
from homeserver.services.accounts.user_directory import UserDirectoryService
from homeserver.services.common.notifier import Notifier
from homeserver.services.common.ratelimit import RateLimiter
from homeserver.services.container import RequestLimits, ServerInfo, Services
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import E2eKeysService
from homeserver.services.e2ee.sync_source import E2eSyncSource
from homeserver.services.ephemeral.presence import PresenceService
from homeserver.services.ephemeral.receipts import ReceiptService
from homeserver.services.ephemeral.to_device import ToDeviceService
from homeserver.services.ephemeral.typing import TypingService
from homeserver.services.media.admin import MediaAdminService
from homeserver.services.media.blobs import MediaBlobs
from homeserver.services.media.render import ThumbnailSpec
from homeserver.services.media.render_pool import ThumbnailPool
from homeserver.services.media.repository import MediaService, MediaSettings
from homeserver.services.media.thumbnails import ThumbnailService, ThumbnailSettings
from homeserver.services.media.url_fetch import FetchLimits, IpPolicy, SafeFetcher
from homeserver.services.media.url_preview import UrlPreviewService, UrlPreviewSettings
from homeserver.services.push.rules import PushRuleService
from homeserver.services.push.unread_counts import NotificationService
from homeserver.services.rooms.creation import RoomService
from homeserver.services.rooms.directory import DirectoryService
from homeserver.services.rooms.event_serializer import EventSerializer
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.messages import MessageService
from homeserver.services.rooms.pagination import PaginationService
from homeserver.services.rooms.reads import RoomReadService
from homeserver.services.rooms.recent_events import RecentEvents
from homeserver.services.rooms.redaction import RedactionService
from homeserver.services.rooms.room_list import RoomListService
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.services.sync.service import EphemeralSources, SyncService
from homeserver.storage.factory import Stores
from homeserver.storage.media.crypto import media_master_key
from homeserver.storage.media.files import FilesystemBlobStore

logger = logging.getLogger(__name__)


def build_services(
    config: Config,
    stores: Stores,
    clock: Clock,
    signing_key: SigningKey,
    events_position: int = 0,
) -> Services:
    """Wire every service from the configuration and the stores."""
    server_name = ServerName(parse_server_name(config.server_name))
    limiter = RateLimiter(clock)
    tokens = TokenService(stores.tokens, clock, config.access_token_lifetime_ms)
    ui_auth = UiAuthService(
        stores.ui_auth,
        stores.users,
        clock,
        config.ui_auth_session_timeout_ms,
        PasswordAttempts(limiter, config.rate_limits.login_failures),
    )
    accounts = AccountService(
        server_name=server_name,
        users=stores.users,
        profiles=stores.profiles,
        ui_auth_store=stores.ui_auth,
        ui_auth=ui_auth,
        tokens=tokens,
        clock=clock,
        registration_enabled=config.enable_registration,
        registration_requires_token=config.registration_requires_token,
        refresh_tokens_enabled=config.refresh_tokens,
    )
    login_service = LoginService(
        server_name=server_name,
        users=stores.users,
        tokens=tokens,
        limiter=limiter,
        login_limit=config.rate_limits.login,
        failure_limit=config.rate_limits.login_failures,
        clock=clock,
        password_login=config.password_login,
        jwt_settings=_jwt_settings(config),
        refresh_tokens_enabled=config.refresh_tokens,
    )
    info = ServerInfo(
        server_name=server_name,
        base_url=config.base_url,
        max_request_body_bytes=config.max_request_body_bytes,
        trusted_proxies=tuple(ipaddress.ip_network(n) for n in config.trusted_proxies),
        cors_origins=config.cors_origins,
    )
    notifier = Notifier()
    recent = RecentEvents(events_position)
    events = EventService(
        server_name=server_name,
        signing_key=signing_key,
        store=stores.events,
        notifier=notifier,
        recent=recent,
        clock=clock,
    )
    membership = MembershipService(
        events=events,
        store=stores.events,
        aliases=stores.aliases,
        profiles=stores.profiles,
        limiter=limiter,
        join_limit=config.rate_limits.join,
    )
    profile = ProfileService(stores.profiles)
    rooms = RoomService(
        server_name=server_name,
        events=events,
        membership=membership,
        store=stores.events,
        aliases=stores.aliases,
        clock=clock,
    )
    typing = TypingService(notifier, stores.events, clock)
    receipts = ReceiptService(stores.receipts, stores.events, stores.account_data, notifier, clock)
    push_rules = PushRuleService(stores.account_data, notifier)
    notifications = NotificationService(
        server_name=server_name,
        store=stores.notifications,
        events=events,
        push_rules=push_rules,
        notifier=notifier,
        clock=clock,
    )
    presence = PresenceService(stores.presence, notifier, stores.events, clock)
    visibility, room_reads, pagination, redaction = _room_read_services(
        config, stores, events, limiter, clock
    )
    media_service, media_admin, url_previews = _media_services(config, stores, limiter, clock)
    device_service = DeviceService(stores.devices, ui_auth)
    device_lists = DeviceListService(stores.device_lists, notifier)
    e2e_keys = E2eKeysService(
        server_name=server_name,
        store=stores.e2e_keys,
        cross_signing=stores.cross_signing,
        device_lists=device_lists,
    )
    to_device = ToDeviceService(
        server_name=server_name, store=stores.to_device, notifier=notifier, clock=clock
    )
    services = Services(
        info=info,
        clock=clock,
        limiter=limiter,
        limits=RequestLimits(
            login=config.rate_limits.login, registration=config.rate_limits.registration
        ),
        tokens=tokens,
        accounts=accounts,
        login=login_service,
        devices=device_service,
        profile=profile,
        account_data=AccountDataService(stores.account_data),
        notifier=notifier,
        events=events,
        membership=membership,
        rooms=rooms,
        messages=MessageService(events, limiter, config.rate_limits.message),
        visibility=visibility,
        room_reads=room_reads,
        pagination=pagination,
        redaction=redaction,
        typing=typing,
        receipts=receipts,
        presence=presence,
        directory=DirectoryService(
            server_name=server_name,
            aliases=stores.aliases,
            directory=stores.directory,
            store=stores.events,
            events=events,
        ),
        room_list=RoomListService(server_name=server_name, store=stores.directory),
        user_directory=UserDirectoryService(stores.directory),
        filters=FilterService(stores.sync),
        sync=SyncService(
            store=stores.sync,
            account_data=stores.account_data,
            events=events,
            recent=recent,
            notifier=notifier,
            ephemeral=EphemeralSources(typing=typing, receipts=receipts, presence=presence),
            visibility=visibility,
            clock=clock,
            unread=notifications,
            push_rules=push_rules,
            devices=E2eSyncSource(
                keys=e2e_keys, device_lists=device_lists, to_device=to_device, recent=recent
            ),
        ),
        push_rules=push_rules,
        notifications=notifications,
        media=media_service,
        media_admin=media_admin,
        url_previews=url_previews,
        e2e_keys=e2e_keys,
        cross_signing=CrossSigningService(
            store=stores.cross_signing,
            e2e_keys=stores.e2e_keys,
            devices=stores.devices,
            ui_auth=ui_auth,
            device_lists=device_lists,
        ),
        to_device=to_device,
        device_lists=device_lists,
        key_backup=KeyBackupService(stores.key_backup),
    )


def _media_services(
    config: Config, stores: Stores, limiter: RateLimiter, clock: Clock
) -> tuple[MediaService, MediaAdminService, UrlPreviewService]:
    """The content repository: blob store, thumbnails, uploads/downloads, admin, previews."""
    cfg = config.media
    master = media_master_key(cfg.master_key, config.media_key_file, create=cfg.encrypt_at_rest)
    subscriptions(services)
    return services


def subscriptions(services: Services) -> None:
    """Connect every cross-domain reaction: the one place signals get their handlers."""
    s = services
    s.profile.changed.connect(lambda change: s.membership.refresh_profile(change.user_id))
    s.events.persisted.connect(s.notifications.on_event_persisted)
    s.receipts.stored.connect(s.notifications.on_receipt)
    s.tokens.devices_removed.connect(lambda change: s.device_lists.notify_changed(change.user_id))
    s.tokens.devices_removed.connect(lambda change: s.e2e_keys.forget_user(change.user_id))
    s.devices.devices_changed.connect(lambda change: s.device_lists.notify_changed(change.user_id))
    files = FilesystemBlobStore(config.media_store_dir, master, encrypt=cfg.encrypt_at_rest)
    blobs = MediaBlobs(stores.media, files, clock)
    thumbnails = ThumbnailService(
        ThumbnailSettings(
            pregenerate=tuple(ThumbnailSpec.parse(size) for size in cfg.thumbnail_sizes),
            dynamic=cfg.dynamic_thumbnails,
            max_source_bytes=cfg.max_thumbnail_source_bytes,
        ),
        stores.media,
        blobs,
        ThumbnailPool(cfg.thumbnail_workers, cfg.max_thumbnail_pixels),
    )
    settings = MediaSettings(
        server_name=config.server_name,
        max_upload_bytes=cfg.max_upload_bytes,
        user_quota_bytes=cfg.user_quota_bytes,
        upload_limit=cfg.upload_rate,
        unused_id_expiry_ms=cfg.unused_id_expiry_ms,
        max_pending_uploads=cfg.max_pending_uploads,
        freeze_unauthenticated=cfg.freeze_unauthenticated,
        legacy_media_before_ms=cfg.legacy_media_before_ms,
    )
    media_service = MediaService(settings, stores.media, blobs, thumbnails, limiter, clock)
    preview = cfg.url_preview
    fetcher = SafeFetcher(
        IpPolicy(tuple(ipaddress.ip_network(n) for n in preview.allowed_ip_ranges)),
        FetchLimits(max_bytes=preview.max_page_bytes, timeout_s=preview.timeout_ms / 1000),
    )
    previews = UrlPreviewService(
        UrlPreviewSettings(
            enabled=preview.enabled,
            cache_ms=preview.cache_ms,
            max_image_bytes=min(preview.max_page_bytes, cfg.max_upload_bytes),
            limit=cfg.upload_rate,
        ),
        fetcher,
        stores.media,
        media_service,
        limiter,
        clock,
    )
    admin = MediaAdminService(config.server_name, stores.media, blobs, clock, preview.cache_ms)
    return media_service, admin, previews


def _room_read_services(
    config: Config, stores: Stores, events: EventService, limiter: RateLimiter, clock: Clock
) -> tuple[VisibilityService, RoomReadService, PaginationService, RedactionService]:
    """The room read paths, all sharing one state lookup cache and one visibility filter."""
    lookup = StateLookup(stores.room_reads)
    visibility = VisibilityService(store=stores.room_reads, lookup=lookup, events=events)
    serializer = EventSerializer(store=stores.room_reads, lookup=lookup, clock=clock)
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
        limiter=limiter,
        message_limit=config.rate_limits.message,
    )
    return visibility, room_reads, pagination, redaction


def _jwt_settings(config: Config) -> JwtSettings | None:
    jwt = config.jwt
    if not jwt.enabled:
        return None
    key = jwt.secret if jwt.algorithm.startswith("HS") else jwt.public_key
    if key is None:
        return None
    return JwtSettings(
        key=key,
        algorithm=jwt.algorithm,
        subject_claim=jwt.subject_claim,
        issuer=jwt.issuer,
        audiences=jwt.audiences,
    )

"""The `Services` record: every service of one homeserver process, built by `app.py`."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from homeserver.caching import CacheRegistry
from homeserver.clock import Clock
from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.accounts.accounts import AccountService
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.filters import FilterService
from homeserver.services.accounts.login import LoginService
from homeserver.services.accounts.openid import OpenIdService
from homeserver.services.accounts.profile import ProfileService
from homeserver.services.accounts.tokens import TokenService
from homeserver.services.accounts.user_directory import UserDirectoryService
from homeserver.services.common.notifier import Notifier
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import E2eKeysService
from homeserver.services.e2ee.remote_devices import RemoteDeviceLists
from homeserver.services.e2ee.served_keys import FederationKeysService
from homeserver.services.ephemeral.presence import PresenceService
from homeserver.services.ephemeral.receipts import ReceiptService
from homeserver.services.ephemeral.to_device import ToDeviceService
from homeserver.services.ephemeral.typing import TypingService
from homeserver.services.federation import FederationServices
from homeserver.services.media.admin import MediaAdminService
from homeserver.services.media.repository import MediaService
from homeserver.services.media.url_preview import UrlPreviewService
from homeserver.services.push.rules import PushRuleService
from homeserver.services.push.unread_counts import NotificationService
from homeserver.services.retention import RetentionServices
from homeserver.services.rooms.creation import RoomService
from homeserver.services.rooms.directory import DirectoryService
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.messages import MessageService
from homeserver.services.rooms.pagination import PaginationService
from homeserver.services.rooms.reads import RoomReadService
from homeserver.services.rooms.redaction import RedactionService
from homeserver.services.rooms.room_list import RoomListService
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.services.search.indexer import SearchIndexer
from homeserver.services.search.service import SearchService
from homeserver.services.sync.service import SyncService


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Facts about this server that endpoints report."""

    server_name: str
    base_url: str
    max_request_body_bytes: int
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    cors_origins: tuple[str, ...]
    default_room_version: str


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The rate limits the API handlers apply themselves (login limits live in `LoginService`)."""

    registration: Limit


@dataclass(frozen=True, slots=True)
class Services:
    """Every service, shared by the API handlers."""

    info: ServerInfo
    clock: Clock
    limiter: RateLimiter
    limits: RequestLimits
    caches: CacheRegistry
    tokens: TokenService
    accounts: AccountService
    login: LoginService
    devices: DeviceService
    profile: ProfileService
    account_data: AccountDataService
    notifier: Notifier
    events: EventService
    membership: MembershipService
    rooms: RoomService
    messages: MessageService
    visibility: VisibilityService
    room_reads: RoomReadService
    pagination: PaginationService
    redaction: RedactionService
    typing: TypingService
    receipts: ReceiptService
    presence: PresenceService
    filters: FilterService
    openid: OpenIdService
    sync: SyncService
    directory: DirectoryService
    room_list: RoomListService
    user_directory: UserDirectoryService
    push_rules: PushRuleService
    notifications: NotificationService
    media: MediaService
    media_admin: MediaAdminService
    url_previews: UrlPreviewService
    e2e_keys: E2eKeysService
    device_lists: DeviceListService
    remote_devices: RemoteDeviceLists
    federation_keys: FederationKeysService
    cross_signing: CrossSigningService
    to_device: ToDeviceService
    key_backup: KeyBackupService
    search: SearchService
    search_index: SearchIndexer
    retention: RetentionServices
    federation: FederationServices

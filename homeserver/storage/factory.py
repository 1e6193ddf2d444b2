"""Opening the configured database and building every store on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homeserver.caching import CacheRegistry
from homeserver.storage.accounts.account_data import AccountDataStore
from homeserver.storage.accounts.devices import DeviceStore
from homeserver.storage.accounts.openid import OpenIdTokenStore
from homeserver.storage.accounts.profiles import ProfileStore
from homeserver.storage.accounts.token_cache import ACCESS_TOKENS, TokenCache
from homeserver.storage.accounts.tokens import TokenRecord, TokenStore
from homeserver.storage.accounts.ui_auth import UiAuthStore
from homeserver.storage.accounts.users import UserStore
from homeserver.storage.at_rest import AtRestSettings, open_sealer
from homeserver.storage.database import Database
from homeserver.storage.e2ee.cross_signing import CrossSigningStore
from homeserver.storage.e2ee.device_lists import DeviceListStore
from homeserver.storage.e2ee.key_backup import KeyBackupStore
from homeserver.storage.e2ee.keys import E2eKeyStore
from homeserver.storage.e2ee.remote_devices import RemoteDeviceStore
from homeserver.storage.ephemeral.presence import PresenceStore
from homeserver.storage.ephemeral.receipts import ReceiptStore
from homeserver.storage.ephemeral.to_device import ToDeviceStore
from homeserver.storage.federation.device_announcements import DeviceAnnouncementStore
from homeserver.storage.federation.inbound import InboundStore
from homeserver.storage.federation.outbox import OutboxStore
from homeserver.storage.federation.server_keys import ServerKeyStore
from homeserver.storage.media.metadata import MediaStore
from homeserver.storage.media.remote import RemoteMediaStore
from homeserver.storage.migrations import migrate
from homeserver.storage.push.unread_counts import NotificationStore
from homeserver.storage.rooms.aliases import AliasStore
from homeserver.storage.rooms.directory import DirectoryStore
from homeserver.storage.rooms.events import EventStore
from homeserver.storage.rooms.history import HistoryStore
from homeserver.storage.rooms.reads import RoomReadStore
from homeserver.storage.rooms.remote_events import RemoteEventStore
from homeserver.storage.rooms.sync_reads import SyncStore
from homeserver.storage.sealing import Sealer
from homeserver.storage.search.index import SearchStore


@dataclass(frozen=True, slots=True)
class Stores:
    """Every store, sharing one `Database`.

    `caches` is the process's cache registry: the stores registered theirs in it, and the
    services register theirs in the same one. `sealer` seals and opens the values the stores
    keep encrypted at rest.
    """

    db: Database
    caches: CacheRegistry
    sealer: Sealer
    users: UserStore
    devices: DeviceStore
    tokens: TokenStore
    openid_tokens: OpenIdTokenStore
    profiles: ProfileStore
    account_data: AccountDataStore
    ui_auth: UiAuthStore
    events: EventStore
    remote_events: RemoteEventStore
    history: HistoryStore
    aliases: AliasStore
    receipts: ReceiptStore
    presence: PresenceStore
    directory: DirectoryStore
    room_reads: RoomReadStore
    sync: SyncStore
    notifications: NotificationStore
    media: MediaStore
    remote_media: RemoteMediaStore
    e2e_keys: E2eKeyStore
    cross_signing: CrossSigningStore
    device_lists: DeviceListStore
    to_device: ToDeviceStore
    key_backup: KeyBackupStore
    server_keys: ServerKeyStore
    federation_outbox: OutboxStore
    federation_inbound: InboundStore
    device_announcements: DeviceAnnouncementStore
    remote_devices: RemoteDeviceStore
    search: SearchStore

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()


async def open_database(url: str) -> Database:
    """Open `sqlite:///path` (relative; four slashes for absolute) or `postgresql://…`."""
    if url.startswith("sqlite:///"):
        from homeserver.storage.sqlite import SqliteDatabase

        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path.
        path = url.removeprefix("sqlite:///")
        return await SqliteDatabase.open(Path(path) if path != ":memory:" else path)
    if url.startswith(("postgresql://", "postgres://")):
        from homeserver.storage.postgres import PostgresDatabase

        return await PostgresDatabase.open(url)
    raise ValueError("database URL must start with sqlite:/// or postgresql://")


async def open_stores(
    url: str, caches: CacheRegistry | None = None, at_rest: AtRestSettings | None = None
) -> Stores:
    """Open the database, run migrations, check its master key and build the stores
    (registering their caches in `caches`, a new registry if None).

    Args:
        url: The database URL.
        caches: The process's cache registry.
        at_rest: Encryption at rest; None opens only a database that was never sealed, and
            writes plaintext.

    Raises:
        DatabaseKeyError: The master key is missing, unreadable or not the database's.
    """
    db = await open_database(url)
    try:
        await migrate(db)
        sealer = await open_sealer(db, at_rest)
    except BaseException:
        await db.close()
        raise
    caches = caches if caches is not None else CacheRegistry()
    token_cache: TokenCache[TokenRecord] = caches.register(ACCESS_TOKENS, TokenCache())
    devices = DeviceStore(db, caches)
    return Stores(
        db=db,
        caches=caches,
        sealer=sealer,
        users=UserStore(db, caches),
        devices=devices,
        tokens=TokenStore(db, devices, token_cache, caches),
        openid_tokens=OpenIdTokenStore(db),
        profiles=ProfileStore(db),
        account_data=AccountDataStore(db, sealer),
        ui_auth=UiAuthStore(db),
        events=EventStore(db, sealer),
        remote_events=RemoteEventStore(db, sealer),
        history=HistoryStore(db, sealer),
        aliases=AliasStore(db),
        receipts=ReceiptStore(db),
        presence=PresenceStore(db),
        directory=DirectoryStore(db, sealer),
        room_reads=RoomReadStore(db, sealer),
        sync=SyncStore(db, sealer),
        notifications=NotificationStore(db, sealer),
        media=MediaStore(db),
        remote_media=RemoteMediaStore(db),
        e2e_keys=E2eKeyStore(db),
        cross_signing=CrossSigningStore(db, sealer),
        device_lists=DeviceListStore(db),
        to_device=ToDeviceStore(db, sealer),
        key_backup=KeyBackupStore(db, sealer),
        server_keys=ServerKeyStore(db),
        federation_outbox=OutboxStore(db, sealer),
        federation_inbound=InboundStore(db),
        device_announcements=DeviceAnnouncementStore(db),
        remote_devices=RemoteDeviceStore(db, sealer),
        search=SearchStore(db, sealer),
    )

"""Wiring the end-to-end encryption domain: device lists, keys, cross-signing, backups, and
the keys of users on other servers (through the federation client when federation is on)."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.app.wiring.shared import Shared
from homeserver.services.accounts.ui_auth import UiAuthService
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import E2eKeysService
from homeserver.services.e2ee.remote_devices import KeyClient, RemoteDeviceLists
from homeserver.services.e2ee.remote_keys import RemoteKeys
from homeserver.services.e2ee.served_keys import FederationKeysService
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class E2eeServices:
    """The e2ee domain's services."""

    device_lists: DeviceListService
    e2e_keys: E2eKeysService
    cross_signing: CrossSigningService
    key_backup: KeyBackupService
    remote_devices: RemoteDeviceLists
    federation_keys: FederationKeysService


def build_e2ee(
    stores: Stores, shared: Shared, ui_auth: UiAuthService, client: KeyClient | None
) -> E2eeServices:
    """Device and cross-signing keys, device-list tracking and server-side key backup;
    `client` is the federation client (None when federation is off)."""
    device_lists = DeviceListService(stores.device_lists, shared.notifier)
    remote_devices = RemoteDeviceLists(
        server_name=shared.server_name,
        client=client,
        store=stores.remote_devices,
        cross_signing=stores.cross_signing,
        device_lists=device_lists,
    )
    e2e_keys = E2eKeysService(
        server_name=shared.server_name,
        store=stores.e2e_keys,
        cross_signing=stores.cross_signing,
        device_lists=device_lists,
        caches=shared.caches,
        remote=RemoteKeys(lists=remote_devices, cross_signing=stores.cross_signing),
    )
    return E2eeServices(
        device_lists=device_lists,
        e2e_keys=e2e_keys,
        cross_signing=CrossSigningService(
            store=stores.cross_signing,
            e2e_keys=stores.e2e_keys,
            devices=stores.devices,
            ui_auth=ui_auth,
            device_lists=device_lists,
        ),
        key_backup=KeyBackupService(stores.key_backup),
        remote_devices=remote_devices,
        federation_keys=FederationKeysService(
            server_name=shared.server_name,
            keys=e2e_keys,
            users=stores.users,
            announcements=stores.device_announcements,
        ),
    )

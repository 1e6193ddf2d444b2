"""Wiring the end-to-end encryption domain: device lists, keys, cross-signing, backups."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.app.wiring.shared import Shared
from homeserver.services.accounts.ui_auth import UiAuthService
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import E2eKeysService
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class E2eeServices:
    """The e2ee domain's services."""

    device_lists: DeviceListService
    e2e_keys: E2eKeysService
    cross_signing: CrossSigningService
    key_backup: KeyBackupService


def build_e2ee(stores: Stores, shared: Shared, ui_auth: UiAuthService) -> E2eeServices:
    """Device and cross-signing keys, device-list tracking and server-side key backup."""
    device_lists = DeviceListService(stores.device_lists, shared.notifier)
    return E2eeServices(
        device_lists=device_lists,
        e2e_keys=E2eKeysService(
            server_name=shared.server_name,
            store=stores.e2e_keys,
            cross_signing=stores.cross_signing,
            device_lists=device_lists,
            caches=shared.caches,
        ),
        cross_signing=CrossSigningService(
            store=stores.cross_signing,
            e2e_keys=stores.e2e_keys,
            devices=stores.devices,
            ui_auth=ui_auth,
            device_lists=device_lists,
        ),
        key_backup=KeyBackupService(stores.key_backup),
    )

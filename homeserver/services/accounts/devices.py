"""Devices of the logged-in user (spec: "Device Management")."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.identifiers import DeviceId, UserId
from homeserver.caching import CacheRegistry, LruCache
from homeserver.services.accounts.tokens import DevicesChanged
from homeserver.services.accounts.ui_auth import PASSWORD, UiAuthService
from homeserver.services.common.requester import Requester
from homeserver.services.common.signals import Signal
from homeserver.storage.accounts.devices import DeviceRecord, DeviceStore

# Last-seen times are advisory; writing them on every request would cost a write per request.
TOUCH_INTERVAL_MS = 60_000
_TOUCHED_DEVICES = 100_000


def device_json(device: DeviceRecord) -> JsonDict:
    """A device as the spec's `Device` object.

    Unknown fields are `null` rather than absent, as Synapse sends them: matrix-nio rejects a
    device lacking any of them.
    """
    return {
        "device_id": device.device_id,
        "display_name": device.display_name,
        "last_seen_ip": device.last_seen_ip,
        "last_seen_ts": device.last_seen_ts,
    }


class DeviceService:
    """Lists, renames and deletes devices."""

    def __init__(self, store: DeviceStore, ui_auth: UiAuthService, caches: CacheRegistry) -> None:
        self._store = store
        self._ui_auth = ui_auth
        # A write throttle, not a data cache: losing an entry costs one extra write.
        self._last_touched: LruCache[tuple[UserId, DeviceId], int] = caches.lru(
            "device_last_touched", _TOUCHED_DEVICES
        )
        # Emitted after the user renamed or deleted some of their devices.
        self.devices_changed: Signal[DevicesChanged] = Signal("devices.changed")

    async def list_devices(self, requester: Requester) -> list[JsonDict]:
        """Every device of the requester."""
        return [device_json(d) for d in await self._store.get_devices(requester.user_id)]

    async def get_device(self, requester: Requester, device_id: DeviceId) -> JsonDict:
        """One device of the requester, or `M_NOT_FOUND`."""
        device = await self._store.get_device(requester.user_id, device_id)
        if device is None:
            raise MatrixError(M_NOT_FOUND, "Device not found")
        return device_json(device)

    async def rename(self, requester: Requester, device_id: DeviceId, name: str | None) -> None:
        """Set a device's display name, or `M_NOT_FOUND`."""
        if not await self._store.set_display_name(requester.user_id, device_id, name):
            raise MatrixError(M_NOT_FOUND, "Device not found")
        await self.devices_changed.emit(DevicesChanged(requester.user_id))

    async def delete(
        self, requester: Requester, device_ids: Sequence[DeviceId], auth: object, request_key: str
    ) -> None:
        """Delete devices after UIA with the account password."""
        session = await self._ui_auth.check(
            auth, request_key=request_key, flows=[[PASSWORD]], requester=requester
        )
        await self._store.delete_devices(requester.user_id, device_ids)
        await self._ui_auth.finish(session)
        await self.devices_changed.emit(DevicesChanged(requester.user_id))

    async def touch(self, requester: Requester, ip: str | None, now_ms: int) -> None:
        """Record a device's last use, at most once per `TOUCH_INTERVAL_MS` per device."""
        key = (requester.user_id, requester.device_id)
        last = self._last_touched.get(key)
        if last is not None and now_ms - last < TOUCH_INTERVAL_MS:
            return
        self._last_touched.put(key, now_ms)
        await self._store.touch(requester.user_id, requester.device_id, ip, now_ms)

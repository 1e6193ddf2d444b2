"""The end-to-end encryption parts of `/sync`, as one `DeviceSource`.

`to_device.events` for the syncing device, `device_lists.changed/left` since the token
(empty on an initial sync), `device_one_time_keys_count` and
`device_unused_fallback_key_types` for the syncing device.
"""

from __future__ import annotations

from core.errors import JsonDict
from core.identifiers import DeviceId, UserId
from homeserver.services.common.stream_token import StreamToken
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.keys import E2eKeysService
from homeserver.services.ephemeral.to_device import ToDeviceService
from homeserver.services.rooms.recent_events import RecentEvents


class E2eSyncSource:
    """Implements `sync_sources.DeviceSource` over the key, device-list and to-device services."""

    def __init__(
        self,
        *,
        keys: E2eKeysService,
        device_lists: DeviceListService,
        to_device: ToDeviceService,
        recent: RecentEvents,
    ) -> None:
        self._recent = recent
        self._keys = keys
        self._device_lists = device_lists
        self._to_device = to_device

    async def current_positions(self) -> tuple[int, int]:
        """The latest `(to_device, device_lists)` stream positions."""
        return await self._to_device.position(), await self._device_lists.position()

    async def sync_fields(
        self, user_id: UserId, device_id: DeviceId, since: StreamToken | None, now: StreamToken
    ) -> tuple[JsonDict, int]:
        """The top-level E2EE fields of a sync response and the to-device position reached."""
        events, reached = await self._to_device.sync_events(
            user_id, device_id, since.to_device if since else None, now.to_device
        )
        changed: list[UserId] = []
        left: list[UserId] = []
        if since is not None:
            moved = self._recent.memberships_moved_since(since.events)
            changed, left = await self._device_lists.changes(user_id, since, now, moved)
        fields: JsonDict = {
            "to_device": {"events": events},
            "device_lists": {"changed": changed, "left": left},
            "device_one_time_keys_count": await self._keys.one_time_key_counts(user_id, device_id),
            "device_unused_fallback_key_types": await self._keys.unused_fallback_key_types(
                user_id, device_id
            ),
        }
        return fields, reached

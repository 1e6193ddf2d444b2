"""What `/sync` needs from the ephemeral services, as protocols.

The typing, receipt and presence services implement these, and the end-to-end encryption source
(`e2e_sync.E2eSyncSource`) implements `DeviceSource`; sync depends only on the shape.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from core.errors import JsonDict
from core.identifiers import DeviceId, RoomId, UserId
from homeserver.services.common.stream_token import StreamToken


class TypingSource(Protocol):
    """Typing notifications (in memory, process-local positions)."""

    def current_position(self) -> int:
        """The latest typing position."""
        ...

    def typing_event(self, room_id: RoomId) -> JsonDict:
        """The room's `m.typing` event."""
        ...

    def rooms_changed_since(self, position: int) -> set[RoomId]:
        """Rooms whose typing set changed after `position`."""
        ...


class ReceiptSource(Protocol):
    """Read receipts."""

    async def current_position(self) -> int:
        """The latest receipt stream position."""
        ...

    async def receipt_events(
        self, room_ids: Collection[RoomId], since: int, until: int, viewer: UserId
    ) -> dict[RoomId, JsonDict]:
        """`m.receipt` events per room for receipts in (since, until]."""
        ...


class PresenceSource(Protocol):
    """Presence."""

    async def current_position(self) -> int:
        """The latest presence stream position."""
        ...

    async def on_sync(self, user_id: UserId, set_presence: str | None) -> None:
        """Record that the user is syncing."""
        ...

    def sync_finished(self, user_id: UserId) -> None:
        """Record that a sync for which `on_sync` ran has returned."""
        ...

    async def presence_events(self, viewer: UserId, since: int, until: int) -> list[JsonDict]:
        """`m.presence` events visible to `viewer` changed in (since, until]."""
        ...

    async def current_presence_events(self, users: Iterable[UserId]) -> list[JsonDict]:
        """The current presence of each of `users` who is not offline."""
        ...


class DeviceSource(Protocol):
    """End-to-end encryption: to-device messages, device-list changes, one-time key counts."""

    async def current_positions(self) -> tuple[int, int]:
        """The latest `(to_device, device_lists)` stream positions."""
        ...

    async def sync_fields(
        self, user_id: UserId, device_id: DeviceId, since: StreamToken | None, now: StreamToken
    ) -> tuple[JsonDict, int]:
        """The top-level E2EE fields of a sync response and the to-device position reached.

        The fields are `to_device`, `device_lists`, `device_one_time_keys_count` and
        `device_unused_fallback_key_types`. The position is `now.to_device` unless the batch
        of to-device messages was cut short, and then the last delivered message's.
        """
        ...

"""Device-list tracking: who must re-query whose keys, and waking their `/sync`.

A change is recorded by storage in the transaction that makes it; this service wakes the syncs
that should report it (the user and everyone sharing a room with them) and answers which users
changed or stopped sharing rooms between two sync tokens (`/sync` and `/keys/changes`).
"""

from __future__ import annotations

from core.identifiers import UserId
from homeserver.services.accounts.tokens import DevicesChanged
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.services.common.signals import Signal
from homeserver.services.common.stream_token import StreamToken
from homeserver.storage.e2ee.device_lists import DeviceListStore


class DeviceListService:
    """Device-list positions, changes and wake-ups."""

    def __init__(self, store: DeviceListStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier
        # Emitted after every change is announced locally (federation tells other servers).
        self.changed: Signal[DevicesChanged] = Signal("device_lists.changed")

    async def position(self) -> int:
        """The latest device-list stream position."""
        return await self._store.position()

    async def notify_changed(self, user_id: UserId) -> None:
        """Wake the syncs of `user_id` and of everyone sharing a room with them."""
        sharing = await self._store.users_sharing_room(user_id)
        self._notifier.notify(sorted(user_key(u) for u in sharing | {user_id}))
        await self.changed.emit(DevicesChanged(user_id))

    def notify_observer(self, observer: UserId) -> None:
        """Wake the sync of the one user who may see a change (its own user-signing key's)."""
        self._notifier.notify([user_key(observer)])

    async def changes(
        self, viewer: UserId, since: StreamToken, upto: StreamToken, memberships_moved: bool = True
    ) -> tuple[list[UserId], list[UserId]]:
        """`(changed, left)` for `viewer` between two tokens.

        `memberships_moved=False` says no membership event happened between the tokens, so
        nobody can have started or stopped sharing a room with the viewer.

        `changed`: users sharing a room with the viewer whose keys changed, or who started
        sharing a room with the viewer; `left`: users who no longer share any room with it.
        """
        changed: set[UserId] = set()
        if since.device_lists < upto.device_lists:
            changed = await self._store.changed_users(viewer, since.device_lists, upto.device_lists)
        left: set[UserId] = set()
        if memberships_moved:
            changed |= await self._store.newly_sharing(viewer, since.events)
            sharing = await self._store.users_sharing_room(viewer)
            left = await self._store.maybe_parted(viewer, since.events) - sharing - {viewer}
        return sorted(changed - left), sorted(left)

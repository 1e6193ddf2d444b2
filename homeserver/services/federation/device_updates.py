"""Our users' device list changes, told to other servers as `m.device_list_update` EDUs
(Server-Server API "Device Management").

On every change of a local user's device list (`DeviceListService.changed`), the user's devices
are compared with what was last announced: each new or changed device (display name or keys)
and each deleted one gets an update with the next `stream_id` of the user, whose `prev_id`
names the update before it, so a receiving server can tell it missed one and resync through
`user/devices`. The updates go to every server sharing a room with the user and are recorded
even when no server does, so the user's stream IDs keep increasing. A device's keys are sent
with the signatures the user made on them (by their self-signing key), so a new cross-signing
signature is an update too.

When a local user's master or self-signing key changes (`CrossSigningService.keys_changed`),
an `m.signing_key_update` with both keys goes to the same servers.
"""

from __future__ import annotations

import asyncio
import hashlib

from core.canonical_json import encode_canonical
from core.errors import JsonDict
from core.event_types import Membership
from core.identifiers import DeviceId, ServerName, UserId, server_name_of
from federation.sender import TransactionSender
from homeserver.services.accounts.tokens import DevicesChanged
from homeserver.storage.accounts.devices import DeviceStore
from homeserver.storage.e2ee.cross_signing import (
    MASTER,
    SELF_SIGNING,
    CrossSigningStore,
    merge_signatures,
)
from homeserver.storage.e2ee.keys import E2eKeyStore
from homeserver.storage.federation.device_announcements import (
    Announcement,
    DeviceAnnouncementStore,
)
from homeserver.storage.rooms.events import EventStore

__all__ = ["DeviceListAnnouncer"]

Current = dict[DeviceId, tuple[str | None, JsonDict | None]]


class DeviceListAnnouncer:
    """Sends `m.device_list_update` for local users' device changes."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        sender: TransactionSender,
        announcements: DeviceAnnouncementStore,
        devices: DeviceStore,
        keys: E2eKeyStore,
        cross_signing: CrossSigningStore,
        events: EventStore,
    ) -> None:
        self._server_name = server_name
        self._sender = sender
        self._announcements = announcements
        self._devices = devices
        self._keys = keys
        self._cross_signing = cross_signing
        self._events = events
        self._locks: dict[UserId, asyncio.Lock] = {}

    async def on_device_list_changed(self, change: DevicesChanged) -> None:
        """`DeviceListService.changed` handler: announce a local user's device changes."""
        user_id = change.user_id
        if server_name_of(user_id) != self._server_name:
            return
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        try:
            async with lock:
                await self._announce(user_id)
        finally:
            if not lock.locked():
                self._locks.pop(user_id, None)

    async def on_cross_signing_changed(self, change: DevicesChanged) -> None:
        """`CrossSigningService.keys_changed` handler: send a local user's master and
        self-signing keys as `m.signing_key_update`."""
        user_id = change.user_id
        if server_name_of(user_id) != self._server_name:
            return
        keys = await self._cross_signing.get_keys(user_id)
        content: JsonDict = {"user_id": user_id}
        if MASTER in keys:
            signatures = await self._cross_signing.signatures_on(user_id, user_id)
            master = keys[MASTER]
            content["master_key"] = merge_signatures(
                master.key_json, signatures.get(master.public_key, {})
            )
        if SELF_SIGNING in keys:
            content["self_signing_key"] = keys[SELF_SIGNING].key_json
        servers = await self._servers_sharing_room(user_id)
        if len(content) > 1 and servers:
            await self._sender.send_edu(servers, "m.signing_key_update", content)

    async def _announce(self, user_id: UserId) -> None:
        current = await self._current(user_id)
        previous = {a.device_id: a for a in await self._announcements.announced(user_id)}
        head = max((a.stream_id for a in previous.values()), default=0)
        edus: list[JsonDict] = []
        recorded: list[Announcement] = []
        for device_id in sorted(set(current) | set(previous)):
            before = previous.get(device_id)
            now = current.get(device_id)
            fingerprint = _fingerprint(now) if now is not None else ""
            if now is None and (before is None or before.deleted):
                continue
            if (
                now is not None
                and before is not None
                and not before.deleted
                and before.fingerprint == fingerprint
            ):
                continue
            stream_id = head + 1
            edus.append(_update(user_id, device_id, stream_id, head, now))
            recorded.append(Announcement(device_id, stream_id, fingerprint, now is None))
            head = stream_id
        if not recorded:
            return
        await self._announcements.record(user_id, recorded)
        servers = await self._servers_sharing_room(user_id)
        for edu in edus:
            await self._sender.send_edu(servers, "m.device_list_update", edu)

    async def _current(self, user_id: UserId) -> Current:
        signatures = await self._cross_signing.signatures_on(user_id, user_id)
        keys = {
            row.device_id: merge_signatures(row.keys, signatures.get(row.device_id, {}))
            for row in await self._keys.device_keys_of(user_id, None)
        }
        return {
            d.device_id: (d.display_name, keys.get(d.device_id))
            for d in await self._devices.get_devices(user_id)
        }

    async def _servers_sharing_room(self, user_id: UserId) -> set[ServerName]:
        servers: set[ServerName] = set()
        for room_id in await self._events.rooms_for_user(user_id, [Membership.JOIN]):
            for member in await self._events.room_members(room_id, Membership.JOIN):
                servers.add(server_name_of(member))
        servers.discard(self._server_name)
        return servers


def _fingerprint(device: tuple[str | None, JsonDict | None]) -> str:
    name, keys = device
    return hashlib.sha256(encode_canonical({"name": name, "keys": keys})).hexdigest()


def _update(
    user_id: UserId,
    device_id: DeviceId,
    stream_id: int,
    prev: int,
    device: tuple[str | None, JsonDict | None] | None,
) -> JsonDict:
    update: JsonDict = {
        "user_id": user_id,
        "device_id": device_id,
        "stream_id": stream_id,
        "prev_id": [prev] if prev else [],
        "deleted": device is None,
    }
    if device is not None:
        name, keys = device
        if name is not None:
            update["device_display_name"] = name
        if keys is not None:
            update["keys"] = keys
    return update

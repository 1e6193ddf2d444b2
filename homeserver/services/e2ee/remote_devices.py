"""Remote users' device lists and cross-signing keys, cached while they share a room with one of
our users (Server-Server API "Device Management" and "End-to-End Encryption").

The cache is filled by a resync (`GET /_matrix/federation/v1/user/devices/{userId}`: every
device with its keys, the list's `stream_id`, the master and self-signing keys) and kept
current by `m.device_list_update` EDUs, each naming the update(s) before it in `prev_id`: an
update that follows the cached head is applied; one that does not (a gap), or the first one
seen for a user, is applied and marks the list stale, and a resync replaces it. A list is also
marked stale when its updates may not have reached us for a while: when its user joins a room
here, or one of our users joins a room the user is in; the next `/keys/query` resyncs it.
`m.signing_key_update` replaces the cached cross-signing keys after checking them.

Everything from another server is untrusted: device keys must name their user and device,
cross-signing keys must have the right user, usage and shape and a self-signing key must be
signed by the master key; anything else is dropped. Every change is recorded on the
device-list stream and wakes the syncs of the user's room-mates (`DeviceListService`), which
then report the user in `device_lists.changed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final, Protocol, TypeGuard

from core.errors import JsonDict, MatrixError
from core.event_types import M_ROOM_MEMBER, Membership
from core.identifiers import DeviceId, ServerName, UserId, parse_device_id, server_name_of
from core.signing import SignatureError, verify_json_signature
from federation.client import path_segment
from federation.errors import FederationError
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_validation import ED25519, invalid, parse_cross_signing_key
from homeserver.services.rooms.events import EventPersisted
from homeserver.storage.e2ee.cross_signing import MASTER, SELF_SIGNING, CrossSigningStore
from homeserver.storage.e2ee.remote_devices import (
    RemoteCrossSigningKey,
    RemoteDevice,
    RemoteDeviceStore,
)

__all__ = ["KeyClient", "RemoteDeviceLists", "checked_device_keys"]

logger = logging.getLogger(__name__)

USER_DEVICES_PATH: Final = "/_matrix/federation/v1/user/devices/"
# A resync keeps at most this many devices of one user.
MAX_DEVICES: Final = 1000
QueryValue = str | int | bool | list[str]


class KeyClient(Protocol):
    """The part of the federation client key requests use."""

    async def get_json(
        self, destination: str, path: str, query: Mapping[str, QueryValue] | None = None
    ) -> JsonDict:
        """GET a JSON object from a server."""
        ...

    async def post_json(
        self,
        destination: str,
        path: str,
        content: JsonDict,
        query: Mapping[str, QueryValue] | None = None,
    ) -> JsonDict:
        """POST a JSON object to a server."""
        ...


class RemoteDeviceLists:
    """The cache of remote users' device lists: EDUs, resyncs and reads."""

    def __init__(
        self,
        *,
        server_name: str,
        client: KeyClient | None,
        store: RemoteDeviceStore,
        cross_signing: CrossSigningStore,
        device_lists: DeviceListService,
    ) -> None:
        self._server_name = server_name
        self._client = client
        self._store = store
        self._cross_signing = cross_signing
        self._device_lists = device_lists
        # One resync per user at a time; a waiting `/keys/query` shares it.
        self._resyncs: dict[UserId, asyncio.Task[None]] = {}

    @property
    def client(self) -> KeyClient | None:
        """The federation client (None when federation is off)."""
        return self._client

    async def on_device_list_update(
        self, origin: ServerName, user_id: UserId, content: JsonDict
    ) -> None:
        """Apply an `m.device_list_update` of `user_id` (a user of `origin`, checked by the
        caller); a gap starts a resync.

        Raises:
            ValueError: The update is malformed (it is dropped).
        """
        device_id = parse_device_id(_string(content.get("device_id"), "device_id"))
        stream_id = content.get("stream_id")
        if not _is_int(stream_id) or stream_id < 0:
            raise ValueError("stream_id must be a non-negative integer")
        prev_ids = content.get("prev_id") or []
        if not isinstance(prev_ids, list) or not all(_is_int(p) for p in prev_ids):
            raise ValueError("prev_id must be a list of integers")
        if not await self._store.shares_room_with_local_user(user_id):
            return  # nobody here tracks this user's devices
        head = await self._store.device_head(user_id)
        if head is not None and stream_id <= head.stream_id:
            return  # already seen
        known = head is not None and (not prev_ids or head.stream_id in prev_ids)
        stale = head is None or head.stale or not known
        name = content.get("device_display_name")
        device = RemoteDevice(
            device_id,
            name if isinstance(name, str) else None,
            checked_device_keys(content.get("keys"), user_id, device_id),
        )
        deleted = content.get("deleted") is True
        await self._store.apply_device_update(
            user_id, stream_id, device, deleted=deleted, stale=stale
        )
        await self._device_lists.notify_changed(user_id)
        if stale:
            self._start_resync(user_id)

    async def on_signing_key_update(
        self, origin: ServerName, user_id: UserId, content: JsonDict
    ) -> None:
        """Replace the cached cross-signing keys of `user_id` (a user of `origin`) with those of
        an `m.signing_key_update`.

        Raises:
            MatrixError: A key is malformed or the self-signing key is not signed by the
                master key (nothing is stored).
        """
        if not await self._store.shares_room_with_local_user(user_id):
            return
        keys = await self._checked_cross_signing(
            user_id, content.get("master_key"), content.get("self_signing_key")
        )
        if keys:
            await self._store.put_cross_signing(user_id, keys)
            await self._device_lists.notify_changed(user_id)

    async def on_event_persisted(self, event: EventPersisted) -> None:
        """`EventService.persisted` handler: a join may mean a server stopped or started
        sending us a user's updates, so the lists it concerns are resynced on their next read.

        A remote user's join marks that user's list stale; one of our users joining marks the
        lists of the room's members stale (only lists already cached are touched).
        """
        pdu = event.pdu.raw
        if pdu.get("type") != M_ROOM_MEMBER or not isinstance(pdu.get("state_key"), str):
            return
        content = pdu.get("content")
        if not isinstance(content, dict) or content.get("membership") != Membership.JOIN:
            return
        member = UserId(pdu["state_key"])
        if server_name_of(member) == self._server_name:
            await self._store.mark_room_stale(event.room_id)
        else:
            await self._store.mark_stale(member)

    async def tracked(self, user_id: UserId) -> bool:
        """Whether the cache of `user_id` may answer: it shares a room with one of our users
        and its list is complete (not stale)."""
        head = await self._store.device_head(user_id)
        if head is None or head.stale:
            return False
        return await self._store.shares_room_with_local_user(user_id)

    async def shares_room(self, user_id: UserId) -> bool:
        """Whether `user_id` shares a room with one of our users (so its list is cached)."""
        return await self._store.shares_room_with_local_user(user_id)

    async def cached(self, user_id: UserId) -> list[RemoteDevice]:
        """The cached devices of `user_id`."""
        return await self._store.devices(user_id)

    async def resync(self, user_id: UserId) -> None:
        """Replace the cached list of `user_id` with its server's answer now (sharing a resync
        already under way).

        Raises:
            FederationError: The server could not be asked or answered nonsense.
        """
        task = self._resyncs.get(user_id)
        if task is None:
            task = self._start_resync(user_id)
        await asyncio.shield(task)

    def _start_resync(self, user_id: UserId) -> asyncio.Task[None]:
        running = self._resyncs.get(user_id)
        if running is not None:
            return running
        task = asyncio.create_task(self._resync(user_id), name="device-list-resync")
        self._resyncs[user_id] = task

        def finished(done: asyncio.Task[None]) -> None:
            self._resyncs.pop(user_id, None)
            if not done.cancelled() and done.exception() is not None:
                # The list stays stale; the next update or query tries again.
                logger.info(
                    "device list resync failed user_server=%s reason=%s",
                    server_name_of(user_id),
                    done.exception(),
                )

        task.add_done_callback(finished)
        return task

    async def _resync(self, user_id: UserId) -> None:
        """Fetch `user/devices` and replace the cached list with it."""
        server = server_name_of(user_id)
        if self._client is None:
            raise FederationError(server, "federation is off", permanent=True)
        answer = await self._client.get_json(server, USER_DEVICES_PATH + path_segment(user_id))
        stream_id, items = answer.get("stream_id"), answer.get("devices")
        if (
            answer.get("user_id") != user_id
            or not _is_int(stream_id)
            or not isinstance(items, list)
        ):
            raise FederationError(server, "malformed user/devices answer")
        devices = _devices(user_id, items)
        try:
            keys = await self._checked_cross_signing(
                user_id, answer.get("master_key"), answer.get("self_signing_key")
            )
        except MatrixError as exc:
            logger.info("bad cross-signing keys server=%s reason=%s", server, exc.message)
            keys = []
        if await self._store.replace_devices(user_id, stream_id, devices, keys):
            await self._device_lists.notify_changed(user_id)

    async def _checked_cross_signing(
        self, user_id: UserId, master: object, self_signing: object
    ) -> list[RemoteCrossSigningKey]:
        """The well-formed keys among `master` and `self_signing` (either may be None); the
        self-signing key must be signed by the master key given or cached."""
        keys: list[RemoteCrossSigningKey] = []
        master_key = None
        if master is not None:
            public, verify = parse_cross_signing_key(master, user_id, MASTER)
            master_key = (public, verify)
            keys.append(RemoteCrossSigningKey(MASTER, public, _dict(master)))
        else:
            cached = (await self._cross_signing.get_keys(user_id)).get(MASTER)
            if cached is not None:
                public, verify = parse_cross_signing_key(cached.key_json, user_id, MASTER)
                master_key = (public, verify)
        if self_signing is not None:
            public, _ = parse_cross_signing_key(self_signing, user_id, SELF_SIGNING)
            if master_key is None:
                raise invalid("self-signing key without a master key")
            try:
                verify_json_signature(
                    _dict(self_signing), user_id, f"{ED25519}:{master_key[0]}", master_key[1]
                )
            except SignatureError:
                raise invalid("self-signing key not signed by the master key") from None
            keys.append(RemoteCrossSigningKey(SELF_SIGNING, public, _dict(self_signing)))
        return keys


def checked_device_keys(value: object, user_id: UserId, device_id: str) -> JsonDict | None:
    """`value` if it is a device keys object of `user_id`'s device `device_id`, else None
    (the keys are dropped; the device stays listed)."""
    if (
        isinstance(value, dict)
        and value.get("user_id") == user_id
        and value.get("device_id") == device_id
        and isinstance(value.get("keys"), dict)
    ):
        return value
    return None


def _devices(user_id: UserId, items: list[object]) -> list[RemoteDevice]:
    found: dict[DeviceId, RemoteDevice] = {}
    for item in items[:MAX_DEVICES]:
        if not isinstance(item, dict) or not isinstance(item.get("device_id"), str):
            continue
        try:
            device_id = parse_device_id(item["device_id"])
        except ValueError:
            continue
        name = item.get("device_display_name")
        found[device_id] = RemoteDevice(
            device_id,
            name if isinstance(name, str) else None,
            checked_device_keys(item.get("keys"), user_id, device_id),
        )
    return list(found.values())


def _dict(value: object) -> JsonDict:
    if not isinstance(value, dict):  # parse_cross_signing_key has checked it already
        raise invalid("a key must be an object")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

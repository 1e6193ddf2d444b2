"""Keys of users on other servers, for our clients' `/keys/query` and `/keys/claim`
(Server-Server API "End-to-End Encryption").

`query` asks one server about some of its users: those sharing a room with one of our users
are answered from the device-list cache (resynced first when it is missing or stale), the
others with one `POST /_matrix/federation/v1/user/keys/query`. `claim` forwards one
`POST /_matrix/federation/v1/user/keys/claim`. The caller bounds each server's time and turns
a failure into its `failures` entry.

An answer is untrusted: only the users asked about, devices whose keys name their user and
device, and cross-signing keys of the right user and usage are passed on; everything else is
dropped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Final

from core.errors import JsonDict, MatrixError
from core.identifiers import ServerName, UserId
from federation.errors import FederationError
from homeserver.services.e2ee.key_validation import parse_cross_signing_key
from homeserver.services.e2ee.remote_devices import (
    KeyClient,
    RemoteDeviceLists,
    checked_device_keys,
)
from homeserver.storage.e2ee.cross_signing import MASTER, SELF_SIGNING, CrossSigningStore

__all__ = ["RemoteKeyAnswer", "RemoteKeys"]

_F1: Final = "/_matrix/federation/v1"


@dataclass(slots=True)
class RemoteKeyAnswer:
    """What one server's users' keys add to a `/keys/query` answer."""

    device_keys: dict[UserId, JsonDict] = field(default_factory=dict)
    master_keys: dict[UserId, JsonDict] = field(default_factory=dict)
    self_signing_keys: dict[UserId, JsonDict] = field(default_factory=dict)


class RemoteKeys:
    """Queries and claims of keys on other servers."""

    def __init__(self, *, lists: RemoteDeviceLists, cross_signing: CrossSigningStore) -> None:
        self._lists = lists
        self._cross_signing = cross_signing

    async def query(self, server: ServerName, wanted: dict[UserId, list[str]]) -> RemoteKeyAnswer:
        """Device and cross-signing keys of `server`'s users in `wanted` (user → device IDs,
        empty for all).

        Raises:
            FederationError: The server could not be asked or answered nonsense.
        """
        answer = RemoteKeyAnswer()
        cached: list[UserId] = []
        resync: list[UserId] = []
        direct: dict[UserId, list[str]] = {}
        for user_id, device_ids in wanted.items():
            if await self._lists.tracked(user_id):
                cached.append(user_id)
            elif await self._lists.shares_room(user_id):
                resync.append(user_id)
            else:
                direct[user_id] = device_ids
        if resync:
            await asyncio.gather(*(self._lists.resync(user_id) for user_id in resync))
        for user_id in cached + resync:
            await self._from_cache(user_id, wanted[user_id], answer)
        if direct:
            await self._ask(server, direct, answer)
        return answer

    async def claim(
        self, server: ServerName, wanted: dict[UserId, dict[str, str]]
    ) -> dict[UserId, JsonDict]:
        """One key per device of `server`'s users in `wanted` (user → device → algorithm).

        Raises:
            FederationError: The server could not be asked or answered nonsense.
        """
        client = self._client(server)
        body: JsonDict = {"one_time_keys": wanted}
        answer = await client.post_json(server, f"{_F1}/user/keys/claim", body)
        claimed = answer.get("one_time_keys")
        if not isinstance(claimed, dict):
            raise FederationError(server, "claim answer has no one_time_keys")
        result: dict[UserId, JsonDict] = {}
        for user_id, devices in wanted.items():
            got = claimed.get(user_id)
            if not isinstance(got, dict):
                continue
            for device_id in devices:
                keys = got.get(device_id)
                if isinstance(keys, dict) and all(
                    isinstance(k, str) and isinstance(v, str | dict) for k, v in keys.items()
                ):
                    result.setdefault(user_id, {})[device_id] = keys
        return result

    async def _from_cache(
        self, user_id: UserId, device_ids: list[str], answer: RemoteKeyAnswer
    ) -> None:
        devices: JsonDict = {}
        for device in await self._lists.cached(user_id):
            if device.keys is None or (device_ids and device.device_id not in device_ids):
                continue
            keys = dict(device.keys)
            unsigned = dict(keys.get("unsigned") or {})
            if device.display_name is not None:
                unsigned["device_display_name"] = device.display_name
            else:
                unsigned.pop("device_display_name", None)
            keys["unsigned"] = unsigned
            devices[device.device_id] = keys
        answer.device_keys[user_id] = devices
        cross = await self._cross_signing.get_keys(user_id)
        if MASTER in cross:
            answer.master_keys[user_id] = cross[MASTER].key_json
        if SELF_SIGNING in cross:
            answer.self_signing_keys[user_id] = cross[SELF_SIGNING].key_json

    async def _ask(
        self, server: ServerName, wanted: dict[UserId, list[str]], answer: RemoteKeyAnswer
    ) -> None:
        client = self._client(server)
        body: JsonDict = {"device_keys": wanted}
        got = await client.post_json(server, f"{_F1}/user/keys/query", body)
        device_keys = got.get("device_keys")
        if not isinstance(device_keys, dict):
            raise FederationError(server, "query answer has no device_keys")
        masters, self_signing = got.get("master_keys"), got.get("self_signing_keys")
        for user_id, device_ids in wanted.items():
            by_device = device_keys.get(user_id)
            if not isinstance(by_device, dict):
                continue
            answer.device_keys[user_id] = {
                device_id: keys
                for device_id, keys in by_device.items()
                if checked_device_keys(keys, user_id, device_id) is not None
                and (not device_ids or device_id in device_ids)
            }
            for usage, found, into in (
                (MASTER, masters, answer.master_keys),
                (SELF_SIGNING, self_signing, answer.self_signing_keys),
            ):
                key = found.get(user_id) if isinstance(found, dict) else None
                if key is not None and _well_formed(key, user_id, usage):
                    into[user_id] = key

    def _client(self, server: ServerName) -> KeyClient:
        client = self._lists.client
        if client is None:
            raise FederationError(server, "federation is off", permanent=True)
        return client


def _well_formed(key: object, user_id: UserId, usage: str) -> bool:
    try:
        parse_cross_signing_key(key, user_id, usage)
    except MatrixError:
        return False
    return True

"""Our users' keys and device lists as other servers ask for them (Server-Server API
`GET /user/devices/{userId}`, `POST /user/keys/query`, `POST /user/keys/claim`).

Only users of this server are answered: naming another server's user is `M_INVALID_PARAM`
(each request must name local users only). Other servers see what our clients see of a user's
keys, less what only the user may see: signatures made by the user themself are merged in,
the user-signing key is never given out. `user/devices` answers with the `stream_id` of the
last `m.device_list_update` announced for the user, so the asking server can apply the updates
that follow it.
"""

from __future__ import annotations

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.identifiers import UserId, server_name_of
from homeserver.services.common.params import checked_user_id
from homeserver.services.e2ee.keys import E2eKeysService
from homeserver.storage.accounts.users import UserStore
from homeserver.storage.federation.device_announcements import DeviceAnnouncementStore

__all__ = ["FederationKeysService"]


class FederationKeysService:
    """Answers other servers' key and device-list requests about our users."""

    def __init__(
        self,
        *,
        server_name: str,
        keys: E2eKeysService,
        users: UserStore,
        announcements: DeviceAnnouncementStore,
    ) -> None:
        self._server_name = server_name
        self._keys = keys
        self._users = users
        self._announcements = announcements

    async def user_devices(self, user_id: str) -> JsonDict:
        """`GET /user/devices/{userId}`: every device with keys, the list's `stream_id`, and the
        master and self-signing keys.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed or foreign user ID, `M_NOT_FOUND`
                for a user who never existed here.
        """
        user = self._local_user(user_id)
        if await self._users.get_user(user) is None:
            raise MatrixError(M_NOT_FOUND, "Unknown user")
        found: JsonDict = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}}
        await self._keys.local_keys(None, user, None, found)
        devices = []
        for device_id, keys in sorted(found["device_keys"][user].items()):
            unsigned = keys.pop("unsigned", {})
            device: JsonDict = {"device_id": device_id, "keys": keys}
            name = unsigned.get("device_display_name")
            if isinstance(name, str):
                device["device_display_name"] = name
            devices.append(device)
        announced = await self._announcements.announced(user)
        answer: JsonDict = {
            "user_id": user,
            "stream_id": max((a.stream_id for a in announced), default=0),
            "devices": devices,
        }
        if user in found["master_keys"]:
            answer["master_key"] = found["master_keys"][user]
        if user in found["self_signing_keys"]:
            answer["self_signing_key"] = found["self_signing_keys"][user]
        return answer

    async def query(self, body: JsonDict | None) -> JsonDict:
        """`POST /user/keys/query`: device, master and self-signing keys of our users.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed body or a user of another server.
        """
        wanted = (body or {}).get("device_keys")
        if not isinstance(wanted, dict):
            raise MatrixError(M_INVALID_PARAM, "device_keys must be an object")
        users: list[tuple[UserId, list[str]]] = []
        for user_id, device_ids in wanted.items():
            if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
                raise MatrixError(M_INVALID_PARAM, "device_keys values must be lists of strings")
            users.append((self._local_user(user_id), device_ids))
        result: JsonDict = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}}
        for user, device_ids in users:
            await self._keys.local_keys(None, user, device_ids or None, result)
        return result

    async def claim(self, body: JsonDict | None) -> JsonDict:
        """`POST /user/keys/claim`: one key per requested device of our users.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed body or a user of another server.
        """
        wanted = (body or {}).get("one_time_keys")
        if not isinstance(wanted, dict):
            raise MatrixError(M_INVALID_PARAM, "one_time_keys must be an object")
        users: list[tuple[UserId, dict[str, str]]] = []
        for user_id, devices in wanted.items():
            if not isinstance(devices, dict) or not all(
                isinstance(a, str) for a in devices.values()
            ):
                raise MatrixError(
                    M_INVALID_PARAM, "one_time_keys values must map device IDs to algorithms"
                )
            users.append((self._local_user(user_id), devices))
        claimed: JsonDict = {}
        for user, devices in users:
            keys = await self._keys.claim_local(user, devices)
            if keys:
                claimed[user] = keys
        return {"one_time_keys": claimed}

    def _local_user(self, user_id: object) -> UserId:
        user = checked_user_id(user_id)
        if server_name_of(user) != self._server_name:
            raise MatrixError(M_INVALID_PARAM, f"{user} is not a user of this server")
        return user

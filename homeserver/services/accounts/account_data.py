"""Account data (spec: "Client Config"): per-user JSON objects, global or per room.

A stored change wakes the owner's waiting `/sync` requests, which carry it in `account_data`.
"""

from __future__ import annotations

from core.errors import M_BAD_JSON, M_FORBIDDEN, M_NOT_FOUND, JsonDict, MatrixError
from core.identifiers import RoomId, UserId
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.services.common.requester import Requester
from homeserver.storage.accounts.account_data import AccountDataStore

# Types the server manages itself; clients must use the dedicated endpoints.
_SERVER_MANAGED = frozenset({"m.fully_read", "m.push_rules"})


class AccountDataService:
    """Gets and sets account data of the requester."""

    def __init__(self, store: AccountDataStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier

    async def get(
        self, requester: Requester, user_id: UserId, room_id: RoomId | None, data_type: str
    ) -> JsonDict:
        """One object (global when `room_id` is None), or `M_NOT_FOUND`."""
        _check_owner(requester, user_id)
        content = await self._store.get(user_id, room_id, data_type)
        if content is None:
            raise MatrixError(M_NOT_FOUND, "Account data not found")
        return content

    async def put(
        self,
        requester: Requester,
        user_id: UserId,
        room_id: RoomId | None,
        data_type: str,
        content: JsonDict,
    ) -> int:
        """Store an object; returns its stream position."""
        _check_owner(requester, user_id)
        if data_type in _SERVER_MANAGED:
            raise MatrixError(
                M_BAD_JSON, f"Cannot set {data_type} through the account data API", status=405
            )
        position = await self._store.put(user_id, room_id, data_type, content)
        self._notifier.notify([user_key(user_id)])
        return position


def _check_owner(requester: Requester, user_id: UserId) -> None:
    if requester.user_id != user_id:
        raise MatrixError(M_FORBIDDEN, "Cannot access another user's account data")

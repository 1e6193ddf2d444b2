"""Server-side key backups (spec: "Server-side key backups", `/room_keys/...`).

The server stores what clients encrypted; it never sees a session key. It checks only shapes:
the algorithm (`m.megolm_backup.v1.curve25519-aes-sha2`), an `auth_data` object with a
`public_key`, and key data with `first_message_index`, `forwarded_count`, `is_verified` and
`session_data`, all of it JSON that encodes canonically (no floats). Keys may be written only to the current version (else 403
`M_WRONG_ROOM_KEYS_VERSION` naming it); a stored key is replaced only by a better one. Room IDs
in a backup are the client's labels for its keys, kept as sent (plain `str`, never resolved).
"""

from __future__ import annotations

from typing import Any

from core.errors import (
    M_INVALID_PARAM,
    M_NOT_FOUND,
    M_WRONG_ROOM_KEYS_VERSION,
    JsonDict,
    MatrixError,
)
from core.identifiers import UserId
from core.json_ingress import check_json
from homeserver.services.common.requester import Requester
from homeserver.storage.e2ee.key_backup import (
    BackupVersion,
    KeyBackupStore,
    RoomKey,
    WrongBackupVersion,
)

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"


def _invalid(message: str) -> MatrixError:
    return MatrixError(M_INVALID_PARAM, message)


def _unknown_version() -> MatrixError:
    return MatrixError(M_NOT_FOUND, "Unknown backup version")


def _version_number(version: str) -> int | None:
    return int(version) if version.isdigit() and len(version) < 18 else None


def _auth_data(body: JsonDict) -> JsonDict:
    if body.get("algorithm") != ALGORITHM:
        raise _invalid(f"algorithm must be {ALGORITHM}")
    auth_data = body.get("auth_data")
    if not isinstance(auth_data, dict) or not isinstance(auth_data.get("public_key"), str):
        raise _invalid("auth_data must be an object with a public_key")
    if "signatures" in auth_data and not isinstance(auth_data["signatures"], dict):
        raise _invalid("auth_data.signatures must be an object")
    check_json(auth_data, floats=False)  # signed: must encode as canonical JSON
    return auth_data


def _count(data: JsonDict, name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise _invalid(f"{name} must be a non-negative integer")
    return value


def _room_key(room_id: str, session_id: str, data: Any) -> RoomKey:
    if not isinstance(data, dict):
        raise _invalid("Key data must be an object")
    first = _count(data, "first_message_index")
    forwarded = _count(data, "forwarded_count")
    verified, session_data = data.get("is_verified"), data.get("session_data")
    if not isinstance(verified, bool) or not isinstance(session_data, dict):
        raise _invalid("is_verified must be a boolean and session_data an object")
    check_json(session_data, floats=False)
    return RoomKey(room_id, session_id, first, forwarded, verified, session_data)


def _sessions(room_id: str, body: Any) -> list[RoomKey]:
    sessions = body.get("sessions") if isinstance(body, dict) else None
    if not isinstance(sessions, dict):
        raise _invalid("sessions must be an object")
    return [_room_key(room_id, sid, data) for sid, data in sessions.items()]


def parse_room_keys(body: JsonDict, room_id: str | None, session_id: str | None) -> list[RoomKey]:
    """The keys of a PUT body at the three scopes (all rooms, one room, one session)."""
    if room_id is not None and session_id is not None:
        return [_room_key(room_id, session_id, body)]
    if room_id is not None:
        return _sessions(room_id, body)
    rooms = body.get("rooms")
    if not isinstance(rooms, dict):
        raise _invalid("rooms must be an object")
    return [key for rid, room in rooms.items() for key in _sessions(rid, room)]


def _key_json(key: RoomKey) -> JsonDict:
    return {
        "first_message_index": key.first_message_index,
        "forwarded_count": key.forwarded_count,
        "is_verified": key.is_verified,
        "session_data": key.session_data,
    }


def _version_json(v: BackupVersion) -> JsonDict:
    return {
        "algorithm": v.algorithm,
        "auth_data": v.auth_data,
        "count": v.count,
        "etag": str(v.etag),
        "version": str(v.version),
    }


class KeyBackupService:
    """Backup versions and the keys stored in them, per user."""

    def __init__(self, store: KeyBackupStore) -> None:
        self._store = store

    async def create_version(self, requester: Requester, body: JsonDict) -> JsonDict:
        """Create a backup version; it becomes the current one."""
        version = await self._store.create_version(requester.user_id, ALGORITHM, _auth_data(body))
        return {"version": str(version)}

    async def get_version(self, requester: Requester, version: str | None) -> JsonDict:
        """A version's information (the current one when `version` is None)."""
        number = None if version is None else _version_number(version)
        found = None
        if version is None or number is not None:
            found = await self._store.get_version(requester.user_id, number)
        if found is None:
            raise MatrixError(
                M_NOT_FOUND,
                "No current backup version" if version is None else "Unknown backup version",
            )
        return _version_json(found)

    async def update_version(self, requester: Requester, version: str, body: JsonDict) -> None:
        """Replace a version's `auth_data`; its algorithm and number cannot change."""
        auth_data = _auth_data(body)
        if "version" in body and body["version"] != version:
            raise _invalid("version does not match the path")
        number = _version_number(version)
        if number is None or not await self._store.update_auth_data(
            requester.user_id, number, auth_data
        ):
            raise _unknown_version()

    async def delete_version(self, requester: Requester, version: str) -> None:
        """Delete a version and its keys (a repeated delete succeeds)."""
        number = _version_number(version)
        if number is None or not await self._store.delete_version(requester.user_id, number):
            raise _unknown_version()

    async def put_keys(
        self,
        requester: Requester,
        version: str,
        body: JsonDict,
        room_id: str | None = None,
        session_id: str | None = None,
    ) -> JsonDict:
        """Store keys in the current version; returns the new `etag` and `count`."""
        keys = parse_room_keys(body, room_id, session_id)
        number = _version_number(version)
        try:
            await self._store.put_keys(requester.user_id, -1 if number is None else number, keys)
        except WrongBackupVersion as exc:
            if exc.current is None:
                raise _unknown_version() from exc
            raise MatrixError(
                M_WRONG_ROOM_KEYS_VERSION,
                "Wrong backup version.",
                extra={"current_version": str(exc.current)},
            ) from exc
        return await self._etag_and_count(requester.user_id, number)

    async def get_keys(
        self,
        requester: Requester,
        version: str,
        room_id: str | None = None,
        session_id: str | None = None,
    ) -> JsonDict:
        """Keys of a version: all rooms, one room, or one session (`M_NOT_FOUND` if absent)."""
        number = await self._live(requester.user_id, version)
        keys = await self._store.get_keys(requester.user_id, number, room_id, session_id)
        if session_id is not None:
            if not keys:
                raise MatrixError(M_NOT_FOUND, "Key not found")
            return _key_json(keys[0])
        sessions: dict[str, JsonDict] = {}
        rooms: dict[str, JsonDict] = {}
        for key in keys:
            room = rooms.setdefault(key.room_id, {"sessions": {}})
            room["sessions"][key.session_id] = _key_json(key)
            sessions[key.session_id] = _key_json(key)
        return {"sessions": sessions} if room_id is not None else {"rooms": rooms}

    async def delete_keys(
        self,
        requester: Requester,
        version: str,
        room_id: str | None = None,
        session_id: str | None = None,
    ) -> JsonDict:
        """Delete keys of a version; returns the new `etag` and `count`."""
        number = await self._live(requester.user_id, version)
        await self._store.delete_keys(requester.user_id, number, room_id, session_id)
        return await self._etag_and_count(requester.user_id, number)

    async def _live(self, user_id: UserId, version: str) -> int:
        number = _version_number(version)
        if number is None or await self._store.get_version(user_id, number) is None:
            raise _unknown_version()
        return number

    async def _etag_and_count(self, user_id: UserId, number: int | None) -> JsonDict:
        found = await self._store.get_version(user_id, number) if number is not None else None
        if found is None:
            raise _unknown_version()
        return {"etag": str(found.etag), "count": found.count}

"""Profiles (spec: "Profiles"): display name and avatar URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.identifiers import ServerName, UserId, server_name_of
from homeserver.services.common.requester import Requester
from homeserver.services.common.signals import Signal
from homeserver.storage.accounts.profiles import ProfileStore

MAX_DISPLAYNAME_LENGTH = 256
MAX_AVATAR_URL_LENGTH = 1000
FIELDS = ("displayname", "avatar_url")


@dataclass(frozen=True, slots=True)
class ProfileChanged:
    """A profile field of local user `user_id` changed."""

    user_id: UserId
    field: str


class RemoteProfiles(Protocol):
    """Profiles of users on other servers (federation `query/profile`)."""

    async def query_profile(self, user_id: UserId, field: str | None) -> JsonDict:
        """The remote user's profile, or one field of it; `M_NOT_FOUND` if there is none."""
        ...


class ProfileService:
    """Reads and changes profiles of local users; reads remote users' through federation."""

    def __init__(
        self,
        store: ProfileStore,
        *,
        server_name: ServerName | None = None,
        remote: RemoteProfiles | None = None,
    ) -> None:
        """Build the service; with `server_name` and `remote`, profiles of users of other
        servers are asked of their servers (otherwise they are not found)."""
        self._store = store
        self._server_name = server_name
        self._remote = remote
        # Emitted after a change (rooms re-send the user's member events).
        self.changed: Signal[ProfileChanged] = Signal("profile.changed")

    async def get_profile(self, user_id: UserId) -> JsonDict:
        """All profile fields that are set, or `M_NOT_FOUND`."""
        if self._remote is not None and server_name_of(user_id) != self._server_name:
            return await self._remote.query_profile(user_id, None)
        profile = await self._store.get_profile(user_id)
        if profile is None:
            raise MatrixError(M_NOT_FOUND, "Profile not found")
        displayname, avatar_url = profile
        body: JsonDict = {}
        if displayname is not None:
            body["displayname"] = displayname
        if avatar_url is not None:
            body["avatar_url"] = avatar_url
        return body

    async def get_field(self, user_id: UserId, field: str) -> JsonDict:
        """One field, or `M_NOT_FOUND` when the user or the field is absent."""
        if self._remote is not None and server_name_of(user_id) != self._server_name:
            profile = await self._remote.query_profile(user_id, field)
        else:
            profile = await self.get_profile(user_id)
        if field not in profile:
            raise MatrixError(M_NOT_FOUND, f"No {field} set")
        return {field: profile[field]}

    async def set_field(
        self, requester: Requester, user_id: UserId, field: str, value: object
    ) -> None:
        """Set `displayname` or `avatar_url` of the requester's own profile."""
        if user_id != requester.user_id and not requester.is_admin:
            raise MatrixError(M_FORBIDDEN, "You cannot change another user's profile")
        if value is not None and not isinstance(value, str):
            raise MatrixError(M_INVALID_PARAM, f"{field} must be a string")
        limit = MAX_DISPLAYNAME_LENGTH if field == "displayname" else MAX_AVATAR_URL_LENGTH
        if value is not None and len(value) > limit:
            raise MatrixError(M_INVALID_PARAM, f"{field} is too long")
        if field == "avatar_url" and value and not value.startswith("mxc://"):
            raise MatrixError(M_INVALID_PARAM, "avatar_url must be an mxc:// URI")
        if await self._store.get_profile(user_id) is None:
            raise MatrixError(M_NOT_FOUND, "Profile not found")
        await self._store.set_field(user_id, field, value or None)
        await self.changed.emit(ProfileChanged(user_id, field))

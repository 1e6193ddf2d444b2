"""Federation queries (Server-Server API "Querying for information"): profiles and room
aliases, both directions.

- `FederationQueryService` answers other servers about our users and aliases.
- `RemoteQueries` asks other servers about theirs, for the client API (the profile service
  and the room directory take it through their `RemoteProfiles`/`RemoteAliases` ports).

A remote answer is untrusted input: only the expected fields of the expected types are passed
on. A remote "not found" is our `M_NOT_FOUND`; any other failure (unreachable, refused, a
malformed answer) is a 502 naming the server, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final, Protocol

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, M_UNKNOWN, JsonDict, MatrixError
from core.identifiers import (
    RoomAlias,
    ServerName,
    UserId,
    parse_room_id,
    parse_server_name,
    server_name_of,
)
from federation.errors import FederationError
from homeserver.services.accounts.profile import FIELDS, ProfileService
from homeserver.services.common.params import checked_room_alias, checked_user_id
from homeserver.services.rooms.directory import DirectoryService

__all__ = ["FederationQueryService", "QueryClient", "RemoteQueries"]

logger = logging.getLogger(__name__)

_F1: Final = "/_matrix/federation/v1"
QueryValue = str | int | bool | list[str]


class FederationQueryService:
    """Answers `query/profile` and `query/directory` about this server's users and aliases."""

    def __init__(
        self, *, server_name: ServerName, profile: ProfileService, directory: DirectoryService
    ) -> None:
        self._server_name = server_name
        self._profile = profile
        self._directory = directory

    async def profile(self, user_id: str | None, field: str | None) -> JsonDict:
        """The profile (or one field of it) of a local user.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a bad or foreign user ID or an unknown field,
                `M_NOT_FOUND` for an unknown user.
        """
        if user_id is None:
            raise MatrixError(M_INVALID_PARAM, "Missing user_id")
        parsed = checked_user_id(user_id)
        if server_name_of(parsed) != self._server_name:
            raise MatrixError(M_INVALID_PARAM, "User is not hosted on this server")
        if field is not None and field not in FIELDS:
            raise MatrixError(M_INVALID_PARAM, f"Unknown profile field {field}")
        profile = await self._profile.get_profile(parsed)
        if field is None:
            return profile
        return {field: profile[field]} if field in profile else {}

    async def directory(self, room_alias: str | None) -> JsonDict:
        """`{"room_id", "servers"}` for a local alias.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a bad or foreign alias, `M_NOT_FOUND` for an
                unknown one.
        """
        if room_alias is None:
            raise MatrixError(M_INVALID_PARAM, "Missing room_alias")
        alias = checked_room_alias(room_alias)
        if server_name_of(alias) != self._server_name:
            raise MatrixError(M_INVALID_PARAM, "Room alias is not hosted on this server")
        return await self._directory.resolve_alias(alias)


class QueryClient(Protocol):
    """The part of the federation client queries use."""

    async def get_json(
        self, destination: str, path: str, query: Mapping[str, QueryValue] | None = None
    ) -> JsonDict:
        """GET a JSON object from a server."""
        ...


class RemoteQueries:
    """Asks other servers about their users' profiles and their room aliases."""

    def __init__(self, client: QueryClient) -> None:
        self._client = client

    async def query_profile(self, user_id: UserId, field: str | None) -> JsonDict:
        """The profile of a remote user (only `displayname` and `avatar_url`, as strings).

        Raises:
            MatrixError: `M_NOT_FOUND` when the server knows no such user or field; 502 when
                it cannot be asked.
        """
        query: dict[str, QueryValue] = {"user_id": user_id}
        if field is not None:
            query["field"] = field
        answer = await self._ask(server_name_of(user_id), "/query/profile", query)
        return {k: v for k, v in answer.items() if k in FIELDS and isinstance(v, str)}

    async def query_alias(self, alias: RoomAlias) -> JsonDict:
        """`{"room_id", "servers"}` for a remote alias, as its server answers.

        Raises:
            MatrixError: `M_NOT_FOUND` when the server knows no such alias; 502 when it
                cannot be asked or answers nonsense.
        """
        server = server_name_of(alias)
        answer = await self._ask(server, "/query/directory", {"room_alias": alias})
        try:
            room_id = parse_room_id(str(answer.get("room_id")))
            raw_servers = answer.get("servers")
            if not isinstance(raw_servers, list):
                raise ValueError("servers is not a list")
            servers = [parse_server_name(s) for s in raw_servers if isinstance(s, str)]
        except ValueError as exc:
            logger.info("bad directory answer server=%s error=%s", server, exc)
            raise _unreachable(server) from None
        return {"room_id": room_id, "servers": servers}

    async def _ask(
        self, server: ServerName, path: str, query: Mapping[str, QueryValue]
    ) -> JsonDict:
        try:
            return await self._client.get_json(server, _F1 + path, query)
        except FederationError as exc:
            if exc.status == 404:
                raise MatrixError(M_NOT_FOUND, f"Not found on {server}") from None
            logger.info("federation query failed server=%s path=%s error=%s", server, path, exc)
            raise _unreachable(server) from None


def _unreachable(server: str) -> MatrixError:
    return MatrixError(M_UNKNOWN, f"Could not get an answer from {server}", status=502)

"""Federation queries (Server-Server API "Querying for information" and "Published Room
Directory"): profiles, room aliases and public room directories, both directions.

- `FederationQueryService` answers other servers about our users and aliases (our directory
  is served by the room list service itself).
- `RemoteQueries` asks other servers about theirs, for the client API (the profile service,
  the room directory and the room list take it through their `RemoteProfiles`,
  `RemoteAliases` and `RemoteRoomDirectory` ports).

A remote answer is untrusted input: only the expected fields of the expected types are passed
on. A remote "not found" is our `M_NOT_FOUND`; any other failure (unreachable, refused, a
malformed answer) is a 502 naming the server, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final, Protocol, TypeVar

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, M_UNKNOWN, JsonDict, MatrixError
from core.identifiers import (
    RoomAlias,
    RoomId,
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
from homeserver.services.rooms.room_list import MAX_LIMIT, RoomListRequest

__all__ = ["FederationQueryService", "QueryClient", "RemoteQueries"]

logger = logging.getLogger(__name__)

_F1: Final = "/_matrix/federation/v1"
QueryValue = str | int | bool | list[str]
_ROOM_STRINGS: Final = ("name", "topic", "canonical_alias", "avatar_url", "join_rule", "room_type")
_MAX_STRING: Final = 65_536
"""The longest room field or token passed on from another server's directory."""
_T = TypeVar("_T")


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

    async def post_json(
        self,
        destination: str,
        path: str,
        content: JsonDict,
        query: Mapping[str, QueryValue] | None = None,
    ) -> JsonDict:
        """POST a JSON object to a server."""
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

    async def public_rooms(self, server: str, request: RoomListRequest) -> JsonDict:
        """A page of another server's public room directory (`GET` or, with a filter,
        `POST /publicRooms`), only well-formed rooms and fields passed on.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a bad server name; 502 when the server
                cannot be asked or answers nonsense.
        """
        try:
            name = parse_server_name(server)
        except ValueError:
            raise MatrixError(M_INVALID_PARAM, "Invalid server name") from None
        filtered = request.search_term is not None or request.room_types is not None
        if filtered:
            room_filter: JsonDict = {}
            if request.search_term is not None:
                room_filter["generic_search_term"] = request.search_term
            if request.room_types is not None:
                room_filter["room_types"] = list(request.room_types)
            body: JsonDict = {"filter": room_filter, **_list_options(request)}
            answer = await self._ask(name, "/publicRooms", {}, body)
        else:
            answer = await self._ask(name, "/publicRooms", _list_options(request))
        return _room_list(name, answer)

    async def _ask(
        self,
        server: ServerName,
        path: str,
        query: Mapping[str, QueryValue],
        body: JsonDict | None = None,
    ) -> JsonDict:
        try:
            if body is not None:
                return await self._client.post_json(server, _F1 + path, body, query)
            return await self._client.get_json(server, _F1 + path, query)
        except FederationError as exc:
            if exc.status == 404:
                raise MatrixError(M_NOT_FOUND, f"Not found on {server}") from None
            logger.info("federation query failed server=%s path=%s error=%s", server, path, exc)
            raise _unreachable(server) from None


def _unreachable(server: str) -> MatrixError:
    return MatrixError(M_UNKNOWN, f"Could not get an answer from {server}", status=502)


def _list_options(request: RoomListRequest) -> dict[str, QueryValue]:
    """The paging options of a directory request, as query parameters or body fields."""
    options: dict[str, QueryValue] = {}
    if request.limit is not None:
        options["limit"] = request.limit
    if request.since is not None:
        options["since"] = request.since
    if request.include_all_networks:
        options["include_all_networks"] = True
    if request.third_party_instance_id is not None:
        options["third_party_instance_id"] = request.third_party_instance_id
    return options


def _room_list(server: ServerName, answer: JsonDict) -> JsonDict:
    """Another server's directory page with only well-formed rooms and fields."""
    chunk = answer.get("chunk")
    if not isinstance(chunk, list):
        logger.info("bad publicRooms answer server=%s", server)
        raise _unreachable(server)
    rooms = [room for room in map(_room_entry, chunk[:MAX_LIMIT]) if room is not None]
    page: JsonDict = {"chunk": rooms}
    for key in ("next_batch", "prev_batch"):
        token = _bounded_str(answer.get(key))
        if token is not None:
            page[key] = token
    total = _count(answer.get("total_room_count_estimate"))
    if total is not None:
        page["total_room_count_estimate"] = total
    return page


def _room_entry(value: object) -> JsonDict | None:
    """A `PublicRoomsChunk` with the required fields well-typed, or None."""
    if not isinstance(value, dict):
        return None
    try:
        room_id: RoomId = parse_room_id(str(value.get("room_id")))
    except ValueError:
        return None
    members = _count(value.get("num_joined_members"))
    world_readable = _typed(value.get("world_readable"), bool)
    guest_can_join = _typed(value.get("guest_can_join"), bool)
    if members is None or world_readable is None or guest_can_join is None:
        return None
    entry: JsonDict = {
        "room_id": room_id,
        "num_joined_members": members,
        "world_readable": world_readable,
        "guest_can_join": guest_can_join,
    }
    for key in _ROOM_STRINGS:
        text = _bounded_str(value.get(key))
        if text is not None:
            entry[key] = text
    return entry


def _typed(value: object, kind: type[_T]) -> _T | None:
    return value if isinstance(value, kind) else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53:
        return value
    return None


def _bounded_str(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) <= _MAX_STRING else None

"""Room aliases, room directory visibility, `/publicRooms` and the user directory search.

Reading an alias, a room's visibility and `GET /publicRooms` of this server need no access
token, as in the spec; everything that changes something, `POST /publicRooms`, the searches
and reading another server's directory do (so the server is no anonymous relay).
"""

from __future__ import annotations

from aiohttp import web

from core.errors import M_INVALID_PARAM, M_MISSING_PARAM, JsonDict, MatrixError
from homeserver.api.http import (
    authenticate,
    json_response,
    optional_bool,
    optional_str,
    query_int,
    read_json,
    required_str,
    services,
)
from homeserver.api.routing import EndpointRoutes
from homeserver.services.rooms.room_list import RoomListRequest

routes = EndpointRoutes()


def _optional_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise MatrixError(M_INVALID_PARAM, f"{name} must be an integer")


def parse_room_list_body(body: JsonDict, server: str | None) -> RoomListRequest:
    """Validate a `POST /publicRooms` body into a request."""
    room_filter = body.get("filter")
    if room_filter is None:
        room_filter = {}
    if not isinstance(room_filter, dict):
        raise MatrixError(M_INVALID_PARAM, "filter must be an object")
    room_types = room_filter.get("room_types")
    if room_types is not None and (
        not isinstance(room_types, list)
        or not all(t is None or isinstance(t, str) for t in room_types)
    ):
        raise MatrixError(M_INVALID_PARAM, "room_types must be a list of strings or null")
    return RoomListRequest(
        limit=_optional_int(body.get("limit"), "limit"),
        since=optional_str(body, "since"),
        server=server,
        search_term=optional_str(room_filter, "generic_search_term"),
        room_types=tuple(room_types) if room_types is not None else None,
        include_all_networks=optional_bool(body, "include_all_networks", False),
        third_party_instance_id=optional_str(body, "third_party_instance_id"),
    )


@routes("get_alias")
async def get_alias(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/directory/room/{roomAlias}."""
    alias = request.match_info["roomAlias"]
    return json_response(await services(request).directory.resolve_alias(alias))


@routes("set_alias")
async def put_alias(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/directory/room/{roomAlias}."""
    requester = await authenticate(request)
    directory = services(request).directory
    alias = directory.parse_alias(request.match_info["roomAlias"])
    body = await read_json(request)
    if "room_id" not in body:
        raise MatrixError(M_MISSING_PARAM, "Missing room_id")
    room_id = directory.parse_room_id(body["room_id"])
    await directory.create_alias(requester, alias, room_id)
    return json_response({})


@routes("delete_alias")
async def delete_alias(request: web.Request) -> web.Response:
    """Spec: DELETE /_matrix/client/v3/directory/room/{roomAlias}."""
    requester = await authenticate(request)
    await services(request).directory.delete_alias(requester, request.match_info["roomAlias"])
    return json_response({})


@routes("room_aliases")
async def room_aliases(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/aliases."""
    requester = await authenticate(request)
    directory = services(request).directory
    room_id = directory.parse_room_id(request.match_info["roomId"])
    aliases = await directory.local_aliases(requester, room_id)
    return json_response({"aliases": aliases})


@routes("get_room_visibility")
async def get_visibility(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/directory/list/room/{roomId}."""
    directory = services(request).directory
    visibility = await directory.visibility(directory.parse_room_id(request.match_info["roomId"]))
    return json_response({"visibility": visibility})


@routes("set_room_visibility")
async def put_visibility(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/directory/list/room/{roomId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    visibility = optional_str(body, "visibility") or "public"
    directory = services(request).directory
    room_id = directory.parse_room_id(request.match_info["roomId"])
    await directory.set_visibility(requester, room_id, visibility)
    return json_response({})


@routes("public_rooms")
async def get_public_rooms(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/publicRooms."""
    room_list = RoomListRequest(
        limit=query_int(request.query, "limit"),
        since=request.query.get("since") or None,
        server=request.query.get("server") or None,
    )
    if services(request).room_list.is_remote(room_list):
        await authenticate(request)
    return json_response(await services(request).room_list.public_rooms(room_list))


@routes("public_rooms_filtered")
async def post_public_rooms(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/publicRooms."""
    await authenticate(request)
    body = await read_json(request)
    room_list = parse_room_list_body(body, request.query.get("server") or None)
    return json_response(await services(request).room_list.public_rooms(room_list))


@routes("user_directory_search")
async def search_users(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/user_directory/search."""
    requester = await authenticate(request)
    body = await read_json(request)
    term = required_str(body, "search_term")
    limit = _optional_int(body.get("limit"), "limit")
    return json_response(await services(request).user_directory.search(requester, term, limit))

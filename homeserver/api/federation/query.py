"""Queries other servers make of us: profiles and room aliases (spec "Querying for
information"), our public room directory ("Published Room Directory"), and whose an OpenID
token is ("OpenID"; asked by third parties, so not signed)."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_INVALID_PARAM, M_NOT_JSON, MatrixError
from homeserver.api.client.directory import parse_room_list_body
from homeserver.api.federation.auth import federation_body, federation_routes
from homeserver.api.http import json_response, query_int, services
from homeserver.services.rooms.room_list import RoomListRequest

routes = federation_routes()


@routes("query_profile")
async def query_profile(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/query/profile."""
    queries = services(request).federation.queries
    user_id, field = request.query.get("user_id"), request.query.get("field")
    return json_response(await queries.profile(user_id, field))


@routes("query_directory")
async def query_directory(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/query/directory."""
    queries = services(request).federation.queries
    return json_response(await queries.directory(request.query.get("room_alias")))


@routes("federation_public_rooms")
async def public_rooms(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/publicRooms."""
    query = request.query
    include_all = query.get("include_all_networks", "false")
    if include_all not in ("true", "false"):
        raise MatrixError(M_INVALID_PARAM, "include_all_networks must be true or false")
    room_list = RoomListRequest(
        limit=query_int(query, "limit"),
        since=query.get("since") or None,
        include_all_networks=include_all == "true",
        third_party_instance_id=query.get("third_party_instance_id"),
    )
    return json_response(await services(request).room_list.public_rooms(room_list))


@routes("federation_public_rooms_filtered")
async def public_rooms_filtered(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/federation/v1/publicRooms."""
    body = await federation_body(request)
    if body is None:
        raise MatrixError(M_NOT_JSON, "Missing body")
    room_list = parse_room_list_body(body, None)
    return json_response(await services(request).room_list.public_rooms(room_list))


@routes("openid_userinfo")
async def openid_userinfo(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/openid/userinfo."""
    token = request.query.get("access_token")
    return json_response(await services(request).openid.userinfo(token))

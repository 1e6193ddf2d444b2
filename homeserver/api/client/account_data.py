"""Account data: `/user/{userId}/account_data/{type}` and the per-room variant."""

from __future__ import annotations

from aiohttp import web

from core.identifiers import RoomId
from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id, checked_user_id

routes = EndpointRoutes()


def _room(request: web.Request) -> RoomId | None:
    """The room of a per-room path (checked), or None for global account data."""
    room_id = request.match_info.get("roomId")
    return checked_room_id(room_id) if room_id is not None else None


@routes("get_account_data", "get_room_account_data")
async def get_account_data(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/user/{userId}[/rooms/{roomId}]/account_data/{type}."""
    requester = await authenticate(request)
    info = request.match_info
    content = await services(request).account_data.get(
        requester, checked_user_id(info["userId"]), _room(request), info["type"]
    )
    return json_response(content)


@routes("set_account_data", "set_room_account_data")
async def put_account_data(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/user/{userId}[/rooms/{roomId}]/account_data/{type}."""
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    await services(request).account_data.put(
        requester, checked_user_id(info["userId"]), _room(request), info["type"], body
    )
    return json_response({})

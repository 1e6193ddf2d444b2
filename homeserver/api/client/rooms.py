"""Rooms and membership: `/createRoom`, `/join`, `/knock`, invite, leave, kick, ban, unban,
forget, `/joined_rooms`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from core.errors import M_BAD_JSON, JsonDict, MatrixError
from core.identifiers import RoomId, UserId
from homeserver.api.http import (
    authenticate,
    json_response,
    optional_bool,
    optional_str,
    read_json,
    required_str,
    services,
)
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_user_id
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.creation import PRESETS, CreateRoomRequest

routes = EndpointRoutes()


def parse_create_room(body: JsonDict) -> CreateRoomRequest:
    """Validate a `/createRoom` body into a request, with `M_BAD_JSON` for wrong shapes."""
    visibility = optional_str(body, "visibility") or "private"
    if visibility not in ("public", "private"):
        raise MatrixError(M_BAD_JSON, "visibility must be 'public' or 'private'")
    preset = optional_str(body, "preset")
    if preset is not None and preset not in PRESETS:
        raise MatrixError(M_BAD_JSON, "Unknown preset")
    invite = body.get("invite", [])
    if not isinstance(invite, list) or not all(isinstance(u, str) for u in invite):
        raise MatrixError(M_BAD_JSON, "invite must be a list of user IDs")
    return CreateRoomRequest(
        visibility=visibility,
        room_alias_name=optional_str(body, "room_alias_name"),
        name=optional_str(body, "name"),
        topic=optional_str(body, "topic"),
        invite=tuple(invite),
        room_version=optional_str(body, "room_version"),
        creation_content=_object(body, "creation_content") or {},
        initial_state=_initial_state(body.get("initial_state", [])),
        preset=preset,
        is_direct=optional_bool(body, "is_direct", False),
        power_level_content_override=_object(body, "power_level_content_override"),
    )


def _object(body: JsonDict, key: str) -> JsonDict | None:
    value = body.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise MatrixError(M_BAD_JSON, f"{key} must be an object")


def _initial_state(value: Any) -> tuple[tuple[str, str, JsonDict], ...]:
    if not isinstance(value, list):
        raise MatrixError(M_BAD_JSON, "initial_state must be a list")
    events = []
    for item in value:
        if not isinstance(item, dict):
            raise MatrixError(M_BAD_JSON, "initial_state entries must be objects")
        event_type, state_key = item.get("type"), item.get("state_key", "")
        content = item.get("content")
        if not isinstance(event_type, str) or not isinstance(state_key, str):
            raise MatrixError(M_BAD_JSON, "initial_state entries need type and state_key")
        if not isinstance(content, dict):
            raise MatrixError(M_BAD_JSON, "initial_state content must be an object")
        events.append((event_type, state_key, content))
    return tuple(events)


@routes("create_room")
async def create_room(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/createRoom."""
    requester = await authenticate(request)
    room = parse_create_room(await read_json(request))
    return json_response(await services(request).rooms.create_room(requester, room))


@routes("join", "join_room_id")
async def join(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/join/{roomIdOrAlias} and /rooms/{roomId}/join."""
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    room = info.get("roomIdOrAlias") or info["roomId"]
    servers = [*request.query.getall("server_name", []), *request.query.getall("via", [])]
    membership = services(request).membership
    room_id = await membership.join(requester, room, optional_str(body, "reason"), servers)
    return json_response({"room_id": room_id})


@routes("knock")
async def knock(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/knock/{roomIdOrAlias}."""
    requester = await authenticate(request)
    body = await read_json(request)
    servers = [*request.query.getall("via", []), *request.query.getall("server_name", [])]
    room_id = await services(request).membership.knock(
        requester, request.match_info["roomIdOrAlias"], optional_str(body, "reason"), servers
    )
    return json_response({"room_id": room_id})


_MemberAction = Callable[[Requester, RoomId, UserId, str | None], Awaitable[None]]


async def _member_action(request: web.Request, action: _MemberAction) -> web.Response:
    requester = await authenticate(request)
    body = await read_json(request)
    room_id = await services(request).membership.resolve_room(request.match_info["roomId"])
    target = checked_user_id(required_str(body, "user_id"))
    await action(requester, room_id, target, optional_str(body, "reason"))
    return json_response({})


@routes("invite")
async def invite(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/invite."""
    return await _member_action(request, services(request).membership.invite)


@routes("kick")
async def kick(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/kick."""
    return await _member_action(request, services(request).membership.kick)


@routes("ban")
async def ban(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/ban."""
    return await _member_action(request, services(request).membership.ban)


@routes("unban")
async def unban(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/unban."""
    return await _member_action(request, services(request).membership.unban)


@routes("leave")
async def leave(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/leave."""
    requester = await authenticate(request)
    body = await read_json(request)
    membership = services(request).membership
    room_id = await membership.resolve_room(request.match_info["roomId"])
    await membership.leave(requester, room_id, optional_str(body, "reason"))
    return json_response({})


@routes("forget")
async def forget(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/forget."""
    requester = await authenticate(request)
    membership = services(request).membership
    room_id = await membership.resolve_room(request.match_info["roomId"])
    await membership.forget(requester, room_id)
    return json_response({})


@routes("joined_rooms")
async def joined_rooms(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/joined_rooms."""
    requester = await authenticate(request)
    rooms = await services(request).membership.joined_rooms(requester)
    return json_response({"joined_rooms": rooms})

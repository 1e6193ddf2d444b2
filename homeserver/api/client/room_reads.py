"""Reading a room: `GET /rooms/{roomId}/event/{eventId}`, `/state`, `/state/{eventType}/{stateKey}`,
`/members` and `/joined_members`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_INVALID_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id, known_event_id

routes = EndpointRoutes()


@routes("get_event")
async def get_event(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}."""
    requester = await authenticate(request)
    info = request.match_info
    room_id, event_id = checked_room_id(info["roomId"]), known_event_id(info["eventId"])
    event = await services(request).room_reads.get_event(requester, room_id, event_id)
    return json_response(event)


@routes("get_state")
async def get_state(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/state."""
    requester = await authenticate(request)
    room_id = checked_room_id(request.match_info["roomId"])
    state = await services(request).room_reads.get_state(requester, room_id)
    return json_response(state)


@routes("get_state_event")
async def get_state_event(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}."""
    requester = await authenticate(request)
    form = request.query.get("format", "content")
    if form not in ("content", "event"):
        raise MatrixError(M_INVALID_PARAM, "format must be 'content' or 'event'")
    info = request.match_info
    body = await services(request).room_reads.get_state_event(
        requester,
        checked_room_id(info["roomId"]),
        info["eventType"],
        info.get("stateKey", ""),
        form == "event",
    )
    return json_response(body)


@routes("get_members")
async def get_members(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/members."""
    requester = await authenticate(request)
    query = request.query
    body = await services(request).room_reads.get_members(
        requester,
        checked_room_id(request.match_info["roomId"]),
        at=query.get("at"),
        membership=query.get("membership"),
        not_membership=query.get("not_membership"),
    )
    return json_response(body)


@routes("get_joined_members")
async def get_joined_members(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/joined_members."""
    requester = await authenticate(request)
    room_id = checked_room_id(request.match_info["roomId"])
    body = await services(request).room_reads.get_joined_members(requester, room_id)
    return json_response(body)

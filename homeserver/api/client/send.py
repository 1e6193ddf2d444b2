"""Sending events: `PUT /rooms/{roomId}/send/{eventType}/{txnId}` and
`PUT /rooms/{roomId}/state/{eventType}/{stateKey}`."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id

routes = EndpointRoutes()


@routes("send_message")
async def send_message(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}."""
    requester = await authenticate(request)
    content = await read_json(request)
    info = request.match_info
    event_id = await services(request).messages.send_message(
        requester, checked_room_id(info["roomId"]), info["eventType"], content, info["txnId"]
    )
    return json_response({"event_id": event_id})


@routes("send_state")
async def send_state(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}."""
    requester = await authenticate(request)
    content = await read_json(request)
    info = request.match_info
    event_id = await services(request).messages.send_state(
        requester,
        checked_room_id(info["roomId"]),
        info["eventType"],
        info.get("stateKey", ""),
        content,
    )
    return json_response({"event_id": event_id})

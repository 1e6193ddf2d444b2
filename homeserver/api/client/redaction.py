"""Redaction: `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, optional_str, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id, known_event_id

routes = EndpointRoutes()


@routes("redact")
async def redact(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    room_id, target = checked_room_id(info["roomId"]), known_event_id(info["eventId"])
    event_id = await services(request).redaction.redact(
        requester, room_id, target, info["txnId"], optional_str(body, "reason")
    )
    return json_response({"event_id": event_id})

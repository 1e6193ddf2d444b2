"""Send-to-device messaging: `PUT /sendToDevice/{eventType}/{txnId}`."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()


@routes("send_to_device")
async def send_to_device(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    await services(request).to_device.send(requester, info["eventType"], info["txnId"], body)
    return json_response({})

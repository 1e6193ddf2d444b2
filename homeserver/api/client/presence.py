"""Presence: `GET` and `PUT /presence/{userId}/status`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_FORBIDDEN, MatrixError
from homeserver.api.http import (
    authenticate,
    json_response,
    optional_str,
    read_json,
    required_str,
    services,
)
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_user_id

routes = EndpointRoutes()


@routes("get_presence")
async def get_presence(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/presence/{userId}/status."""
    requester = await authenticate(request)
    content = await services(request).presence.get_presence(
        requester.user_id, checked_user_id(request.match_info["userId"])
    )
    return json_response(content)


@routes("set_presence")
async def put_presence(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/presence/{userId}/status."""
    requester = await authenticate(request)
    body = await read_json(request)
    presence, status_msg = required_str(body, "presence"), optional_str(body, "status_msg")
    if request.match_info["userId"] != requester.user_id:
        raise MatrixError(M_FORBIDDEN, "Can only set your own presence")
    await services(request).presence.set_presence(requester.user_id, presence, status_msg)
    return json_response({})

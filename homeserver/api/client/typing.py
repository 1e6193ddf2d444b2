"""Typing notifications: `PUT /rooms/{roomId}/typing/{userId}`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_MISSING_PARAM, JsonDict, MatrixError
from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id

routes = EndpointRoutes()


def parse_typing(body: JsonDict) -> tuple[bool, int | None]:
    """`(typing, timeout_ms)` from a typing request body."""
    if "typing" not in body:
        raise MatrixError(M_MISSING_PARAM, "Missing typing")
    typing = body["typing"]
    if not isinstance(typing, bool):
        raise MatrixError(M_INVALID_PARAM, "typing must be a boolean")
    timeout = body.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0
    ):
        raise MatrixError(M_INVALID_PARAM, "timeout must be a non-negative integer")
    return typing, timeout


@routes("typing")
async def put_typing(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}."""
    requester = await authenticate(request)
    typing, timeout_ms = parse_typing(await read_json(request))
    info = request.match_info
    if info["userId"] != requester.user_id:
        raise MatrixError(M_FORBIDDEN, "Cannot set another user's typing state")
    room_id = checked_room_id(info["roomId"])
    await services(request).typing.set_typing(requester.user_id, room_id, typing, timeout_ms)
    return json_response({})

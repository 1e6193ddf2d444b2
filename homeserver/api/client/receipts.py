"""Receipts and read markers: `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}` and
`POST /rooms/{roomId}/read_markers`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_INVALID_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, optional_str, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id

routes = EndpointRoutes()


@routes("receipt")
async def post_receipt(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    thread_id = optional_str(body, "thread_id")
    if thread_id == "":
        raise MatrixError(M_INVALID_PARAM, "thread_id must be a non-empty string")
    info = request.match_info
    await services(request).receipts.post_receipt(
        requester.user_id,
        checked_room_id(info["roomId"]),
        info["receiptType"],
        info["eventId"],
        thread_id,
    )
    return json_response({})


@routes("read_markers")
async def post_read_markers(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/rooms/{roomId}/read_markers."""
    requester = await authenticate(request)
    body = await read_json(request)
    await services(request).receipts.set_read_markers(
        requester.user_id,
        checked_room_id(request.match_info["roomId"]),
        fully_read=optional_str(body, "m.fully_read"),
        read=optional_str(body, "m.read"),
        read_private=optional_str(body, "m.read.private"),
    )
    return json_response({})

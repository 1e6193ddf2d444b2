"""Retention administration: purge a room's history, delete a room, rooms by expiry, counters.

Every endpoint requires a server admin's access token (`M_FORBIDDEN` otherwise).
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, query_int, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id

routes = EndpointRoutes()


@routes("admin_purge_room_history")
async def purge_history(request: web.Request) -> web.Response:
    """Tessera admin: POST /_tessera/admin/v1/rooms/{roomId}/purge_history {"before_ts": MS}."""
    requester = await authenticate(request)
    room_id = checked_room_id(request.match_info["roomId"])
    body = await read_json(request)
    return json_response(
        await services(request).retention.service.purge_history(requester, room_id, body)
    )


@routes("admin_delete_room")
async def delete_room(request: web.Request) -> web.Response:
    """Tessera admin: DELETE /_tessera/admin/v1/rooms/{roomId}."""
    requester = await authenticate(request)
    room_id = checked_room_id(request.match_info["roomId"])
    return json_response(await services(request).retention.service.delete_room(requester, room_id))


@routes("admin_rooms_by_expiry")
async def rooms_by_expiry(request: web.Request) -> web.Response:
    """Tessera admin: GET /_tessera/admin/v1/retention/rooms?limit=N&from=TOKEN."""
    requester = await authenticate(request)
    limit = query_int(request.query, "limit")
    start = query_int(request.query, "from", 0)
    body = await services(request).retention.service.rooms_by_expiry(requester, limit, start)
    return json_response(body)


@routes("admin_retention_stats")
async def stats(request: web.Request) -> web.Response:
    """Tessera admin: GET /_tessera/admin/v1/retention/stats."""
    requester = await authenticate(request)
    return json_response(await services(request).retention.service.stats(requester))

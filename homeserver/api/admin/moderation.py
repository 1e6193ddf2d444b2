"""Moderation administration: the telemetry stream, per-IP and per-user summaries, IP blocks.

Every endpoint requires a server admin's access token (`M_FORBIDDEN` otherwise). The stream is
long-polled: `GET .../moderation/events?since=TOKEN&timeout=MS&limit=N` answers at once when
records newer than `since` are held, else when the first arrives or `timeout` passes, with
`{"events": [...], "next_token": N, "missed": N}` (`missed` counts records the buffer dropped
before the caller read them).
"""

from __future__ import annotations

from aiohttp import web

from core.errors import M_UNRECOGNIZED, MatrixError
from homeserver.api.http import authenticate, json_response, query_int, read_json
from homeserver.api.moderation_gate import MODERATION
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_user_id
from homeserver.services.moderation.service import MAX_PAGE, MAX_WAIT_MS, ModerationService

routes = EndpointRoutes()


def _moderation(request: web.Request) -> ModerationService:
    moderation = request.app.get(MODERATION)
    if moderation is None:
        raise MatrixError(M_UNRECOGNIZED, "Moderation is off on this server", status=404)
    return moderation


@routes("admin_moderation_events")
async def events(request: web.Request) -> web.Response:
    """Tessera admin: GET /_tessera/admin/v1/moderation/events?since=&timeout=&limit=."""
    requester = await authenticate(request)
    since = query_int(request.query, "since", 0)
    timeout = query_int(request.query, "timeout", 0, maximum=MAX_WAIT_MS)
    limit = query_int(request.query, "limit", 500, maximum=MAX_PAGE)
    return json_response(await _moderation(request).read_events(requester, since, timeout, limit))


@routes("admin_moderation_ip")
async def ip_summary(request: web.Request) -> web.Response:
    """Tessera admin: GET /_tessera/admin/v1/moderation/ips/{ip}."""
    requester = await authenticate(request)
    return json_response(_moderation(request).ip_summary(requester, request.match_info["ip"]))


@routes("admin_moderation_user")
async def user_summary(request: web.Request) -> web.Response:
    """Tessera admin: GET /_tessera/admin/v1/moderation/users/{userId}."""
    requester = await authenticate(request)
    user_id = checked_user_id(request.match_info["userId"])
    return json_response(_moderation(request).user_summary(requester, user_id))


@routes("admin_ip_blocks")
async def list_blocks(request: web.Request) -> web.Response:
    """Tessera admin: GET /_tessera/admin/v1/moderation/ip_blocks."""
    requester = await authenticate(request)
    blocks = await _moderation(request).ip_blocks.list_blocks(requester)
    return json_response({"ip_blocks": [block.to_json() for block in blocks]})


@routes("admin_add_ip_block")
async def add_block(request: web.Request) -> web.Response:
    """Tessera admin: POST /_tessera/admin/v1/moderation/ip_blocks
    {"ip", "reason", "expires_at" | "duration_ms", "source"}."""
    requester = await authenticate(request)
    body = await read_json(request)
    block = await _moderation(request).ip_blocks.add(requester, body)
    return json_response(block.to_json())


@routes("admin_remove_ip_block")
async def remove_block(request: web.Request) -> web.Response:
    """Tessera admin: DELETE /_tessera/admin/v1/moderation/ip_blocks?ip=IP_OR_CIDR."""
    requester = await authenticate(request)
    await _moderation(request).ip_blocks.remove(requester, request.query.get("ip"))
    return json_response({})

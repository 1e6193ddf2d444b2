"""Media administration: quarantine, delete an item or a user's media, purge stale media.

Every endpoint requires a server admin's access token (`M_FORBIDDEN` otherwise).
"""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_user_id

routes = EndpointRoutes()


@routes("admin_quarantine_media")
async def quarantine(request: web.Request) -> web.Response:
    """Tessera admin: POST /_tessera/admin/v1/media/{serverName}/{mediaId}/quarantine."""
    requester = await authenticate(request)
    server_name, media_id = request.match_info["serverName"], request.match_info["mediaId"]
    await services(request).media_admin.set_quarantined(requester, server_name, media_id, True)
    return json_response({})


@routes("admin_release_media")
async def release(request: web.Request) -> web.Response:
    """Tessera admin: DELETE /_tessera/admin/v1/media/{serverName}/{mediaId}/quarantine."""
    requester = await authenticate(request)
    server_name, media_id = request.match_info["serverName"], request.match_info["mediaId"]
    await services(request).media_admin.set_quarantined(requester, server_name, media_id, False)
    return json_response({})


@routes("admin_delete_media")
async def delete_item(request: web.Request) -> web.Response:
    """Tessera admin: DELETE /_tessera/admin/v1/media/{serverName}/{mediaId}."""
    requester = await authenticate(request)
    server_name, media_id = request.match_info["serverName"], request.match_info["mediaId"]
    deleted = await services(request).media_admin.delete_item(requester, server_name, media_id)
    return json_response({"deleted": deleted})


@routes("admin_delete_user_media")
async def delete_user_media(request: web.Request) -> web.Response:
    """Tessera admin: DELETE /_tessera/admin/v1/users/{userId}/media."""
    requester = await authenticate(request)
    user_id = checked_user_id(request.match_info["userId"])
    deleted = await services(request).media_admin.delete_user_media(requester, user_id)
    return json_response({"deleted": deleted})


@routes("admin_purge_media")
async def purge(request: web.Request) -> web.Response:
    """Tessera admin: POST /_tessera/admin/v1/media/purge {"not_accessed_for_days": N}."""
    requester = await authenticate(request)
    days = (await read_json(request)).get("not_accessed_for_days")
    deleted = await services(request).media_admin.purge(requester, days)
    return json_response({"deleted": deleted})

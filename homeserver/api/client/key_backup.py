"""Server-side key backups: `/room_keys/version[/{version}]` and
`/room_keys/keys[/{roomId}[/{sessionId}]]`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_MISSING_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()


def _version_param(request: web.Request) -> str:
    version = request.query.get("version")
    if not version:
        raise MatrixError(M_MISSING_PARAM, "The version query parameter is required")
    return version


@routes("room_keys_version_create")
async def create_version(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/room_keys/version."""
    requester = await authenticate(request)
    body = await read_json(request)
    return json_response(await services(request).key_backup.create_version(requester, body))


@routes("room_keys_version_current", "room_keys_version_get")
async def get_version(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/room_keys/version[/{version}]."""
    requester = await authenticate(request)
    version = request.match_info.get("version")
    return json_response(await services(request).key_backup.get_version(requester, version))


@routes("room_keys_version_update")
async def update_version(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/room_keys/version/{version}."""
    requester = await authenticate(request)
    body = await read_json(request)
    version = request.match_info["version"]
    await services(request).key_backup.update_version(requester, version, body)
    return json_response({})


@routes("room_keys_version_delete")
async def delete_version(request: web.Request) -> web.Response:
    """Spec: DELETE /_matrix/client/v3/room_keys/version/{version}."""
    requester = await authenticate(request)
    await services(request).key_backup.delete_version(requester, request.match_info["version"])
    return json_response({})


@routes("room_keys_put", "room_keys_room_put", "room_keys_session_put")
async def put_keys(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]."""
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    result = await services(request).key_backup.put_keys(
        requester, _version_param(request), body, info.get("roomId"), info.get("sessionId")
    )
    return json_response(result)


@routes("room_keys_get", "room_keys_room_get", "room_keys_session_get")
async def get_keys(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]."""
    requester = await authenticate(request)
    info = request.match_info
    result = await services(request).key_backup.get_keys(
        requester, _version_param(request), info.get("roomId"), info.get("sessionId")
    )
    return json_response(result)


@routes("room_keys_delete", "room_keys_room_delete", "room_keys_session_delete")
async def delete_keys(request: web.Request) -> web.Response:
    """Spec: DELETE /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]."""
    requester = await authenticate(request)
    info = request.match_info
    result = await services(request).key_backup.delete_keys(
        requester, _version_param(request), info.get("roomId"), info.get("sessionId")
    )
    return json_response(result)

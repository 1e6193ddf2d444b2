"""`GET /sync` and the filter endpoints `POST /user/{userId}/filter`, `GET …/filter/{filterId}`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, MatrixError
from homeserver.api.http import authenticate, json_response, query_int, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.stream_token import StreamToken
from homeserver.services.sync.service import SyncRequest

routes = EndpointRoutes()

_PRESENCE = ("online", "offline", "unavailable")


@routes("sync")
async def sync(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/sync."""
    requester = await authenticate(request)
    svc = services(request)
    query = request.query
    since = query.get("since")
    set_presence = query.get("set_presence")
    if set_presence is not None and set_presence not in _PRESENCE:
        raise MatrixError(M_INVALID_PARAM, "Unknown set_presence value")
    full_state = query.get("full_state", "false")
    if full_state not in ("true", "false"):
        raise MatrixError(M_INVALID_PARAM, "full_state must be true or false")
    sync_filter = await svc.filters.resolve(requester.user_id, query.get("filter"))
    result = await svc.sync.sync(
        SyncRequest(
            user_id=requester.user_id,
            device_id=requester.device_id,
            since=StreamToken.parse(since) if since else None,
            timeout_ms=query_int(query, "timeout", 0),
            full_state=full_state == "true",
            filter=sync_filter,
            set_presence=set_presence,
        )
    )
    return json_response(result)


@routes("create_filter")
async def create_filter(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/user/{userId}/filter."""
    requester = await authenticate(request)
    if request.match_info["userId"] != requester.user_id:
        raise MatrixError(M_FORBIDDEN, "Cannot create filters for other users")
    body = await read_json(request)
    filter_id = await services(request).filters.create(requester.user_id, body)
    return json_response({"filter_id": str(filter_id)})


@routes("get_filter")
async def get_filter(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/user/{userId}/filter/{filterId}."""
    requester = await authenticate(request)
    if request.match_info["userId"] != requester.user_id:
        raise MatrixError(M_FORBIDDEN, "Cannot read other users' filters")
    definition = await services(request).filters.get(
        requester.user_id, request.match_info["filterId"]
    )
    if definition is None:
        raise MatrixError(M_NOT_FOUND, "No such filter")
    return json_response(definition)

"""Server-side search: `POST /search`."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.search.criteria import parse_search_body

routes = EndpointRoutes()


@routes("search")
async def search(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/search."""
    requester = await authenticate(request)
    criteria = parse_search_body(await read_json(request))
    next_batch = request.query.get("next_batch")
    body = await services(request).search.search(requester, criteria, next_batch)
    return json_response(body)

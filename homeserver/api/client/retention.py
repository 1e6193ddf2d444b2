"""Message retention (MSC1763): the server's policy, for clients to show and apply."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import authenticate, json_response, services
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()


@routes("retention_configuration")
async def configuration(request: web.Request) -> web.Response:
    """MSC1763: GET /_matrix/client/unstable/org.matrix.msc1763/retention/configuration."""
    await authenticate(request)
    return json_response(services(request).retention.service.configuration())

"""X-Matrix authentication of inbound federation requests, and their JSON bodies.

`authenticate_origin` is the authenticator of the federation routes (`EndpointRoutes`): it
reads the body (the signature covers it; a transaction may be larger than a client request:
up to 50 PDUs of 64 KiB and 100 EDUs, so `/send` bodies are allowed `TRANSACTION_MAX_BYTES`),
checks the request through the federation
`InboundAuth` service with the raw request target as received (path and query, undecoded),
and keeps the origin and the body on the request for the handler.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from core.errors import JsonDict
from core.federation_endpoints import FEDERATION_ENDPOINTS
from core.identifiers import ServerName
from homeserver.api.http import read_json, services
from homeserver.api.routing import EndpointRoutes

__all__ = ["authenticate_origin", "federation_body", "federation_routes"]

ORIGIN = web.RequestKey("federation_origin", str)
BODY = web.RequestKey("federation_body", dict)
TRANSACTION_MAX_BYTES: Final = 10 * 1024 * 1024
_SEND_PREFIX: Final = "/_matrix/federation/v1/send/"


async def federation_body(request: web.Request) -> JsonDict | None:
    """The request's JSON object body, or None when it has no body (read once, then kept)."""
    if BODY in request:
        return request[BODY]
    if not request.body_exists:
        return None
    if request.path.startswith(_SEND_PREFIX):
        limit = max(TRANSACTION_MAX_BYTES, services(request).info.max_request_body_bytes)
        body = await read_json(request, limit)
    else:
        body = await read_json(request)
    request[BODY] = body
    return body


async def authenticate_origin(request: web.Request) -> ServerName:
    """The server that validly signed `request` for us (401/403/429 otherwise)."""
    cached = request.get(ORIGIN)
    if cached is not None:
        return ServerName(cached)
    content = await federation_body(request)
    origin = await services(request).federation.auth.authenticate(
        request.headers.get("Authorization"),
        method=request.method,
        uri=request.raw_path,
        content=content,
    )
    request[ORIGIN] = origin
    return origin


def federation_routes() -> EndpointRoutes:
    """A route group bound to the federation table, authenticated with X-Matrix."""
    return EndpointRoutes(FEDERATION_ENDPOINTS, authenticate_origin)

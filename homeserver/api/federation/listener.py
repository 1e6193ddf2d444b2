"""The TLS federation listener serves the federation paths only.

Both listeners run the same application; a request that arrived over TLS came through the
federation listener (the client listener speaks plain HTTP, behind a reverse proxy), and
anything but `/_matrix/federation/`, `/_matrix/key/` and the `.well-known` delegation is
404 there, so the client API is not exposed on the federation port.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from core.errors import M_UNRECOGNIZED, MatrixError
from core.federation_endpoints import FEDERATION_PREFIXES

__all__ = ["federation_listener_middleware"]


@web.middleware
async def federation_listener_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Refuse non-federation paths that arrive on the TLS federation listener."""
    transport = request.transport
    over_tls = transport is not None and transport.get_extra_info("sslcontext") is not None
    if over_tls and not request.path.startswith(FEDERATION_PREFIXES):
        raise MatrixError(M_UNRECOGNIZED, "Unrecognized request", status=404)
    return await handler(request)

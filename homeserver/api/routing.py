"""Routes built from the shared endpoint table (`core.endpoints`).

A handler is bound to endpoints by name (`@routes("send_message")`); the method, the path (with
its variants) and the access-token requirement all come from the table, so the server serves
exactly the table and nothing else. Path parameters reach the handler in `request.match_info`
under the spec's names (`roomId`, `eventType`, …).

Invariant: an endpoint the table marks `requires_auth` is authenticated before its handler runs
(the handler's own `authenticate` call then returns the cached requester), so the table's flag is
what the server enforces. Unknown endpoint names fail at import time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from functools import wraps

from aiohttp import web

from core.endpoints import ENDPOINTS, Endpoint
from homeserver.api.http import authenticate

__all__ = ["Authenticator", "EndpointRoutes", "Handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Authenticator = Callable[[web.Request], Awaitable[object]]


class EndpointRoutes:
    """The routes of one endpoint group, bound by endpoint name; iterable for `add_routes`."""

    def __init__(
        self, table: Mapping[str, Endpoint] = ENDPOINTS, authenticator: Authenticator = authenticate
    ) -> None:
        """Bind names from `table` (the shared endpoint table by default); endpoints it marks
        `requires_auth` pass `authenticator` first (access tokens by default; X-Matrix for the
        federation table)."""
        self._table = table
        self._authenticator = authenticator
        self._defs: list[web.RouteDef] = []

    def __call__(self, *names: str) -> Callable[[Handler], Handler]:
        """A decorator serving the endpoints `names` with the decorated handler.

        Raises:
            KeyError: A name is not in the table.
        """
        endpoints = [self._table[name] for name in names]

        def bind(handler: Handler) -> Handler:
            for item in endpoints:
                served = handler
                if item.requires_auth:
                    served = _authenticated(handler, self._authenticator)
                for path in (item.template, *item.variants):
                    self._defs.append(web.RouteDef(item.method, path, served, {}))
            return handler

        return bind

    def __iter__(self) -> Iterator[web.AbstractRouteDef]:
        """The route definitions bound so far."""
        return iter(self._defs)


def _authenticated(handler: Handler, authenticator: Authenticator) -> Handler:
    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        await authenticator(request)
        return await handler(request)

    return guarded

"""Authentication of inbound federation requests (Server-Server API "Request Authentication").

Every request to an authenticated federation endpoint passes `InboundAuth.authenticate`: its
X-Matrix signature is checked against the origin's keys through the keyring, it must be meant
for us, the origin it claims must be allowed by `domain_allowlist` (checked first, so refused
servers cause no key lookups), and each origin has its own token bucket. The bucket is taken
only after the signature verifies, so one server cannot spend another's budget by naming it.
A verified request also tells `origin_seen` that the origin is up (our queue to it stops
backing off), whatever it asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from core.errors import M_FORBIDDEN, M_UNAUTHORIZED, JsonDict, MatrixError
from core.identifiers import ServerName
from federation.x_matrix import (
    ServerJsonVerifier,
    XMatrixParseError,
    authenticate_request,
    parse_authorization,
)
from homeserver.clock import Clock
from homeserver.services.common.ratelimit import Limit, RateLimiter

__all__ = ["InboundAuth"]

_ACTION: Final = "federation_inbound"


class InboundAuth:
    """Checks who sent a federation request."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        verifier: ServerJsonVerifier | None,
        clock: Clock,
        limiter: RateLimiter,
        limit: Limit,
        domain_allowlist: frozenset[str] | None,
        origin_seen: Callable[[ServerName], None] | None = None,
    ) -> None:
        """Build the checker.

        Args:
            server_name: Our server name (requests must be for it).
            verifier: The keyring; None when federation is off (every request is refused).
            clock: The time keys must be valid at.
            limiter: The process's rate limiter.
            limit: Requests per origin.
            domain_allowlist: Origins we federate with; None for every server.
            origin_seen: Told of the origin of every verified request.
        """
        self._server_name = server_name
        self._verifier = verifier
        self._clock = clock
        self._limiter = limiter
        self._limit = limit
        self._allowlist = domain_allowlist
        self._origin_seen = origin_seen

    async def authenticate(
        self, header: str | None, *, method: str, uri: str, content: JsonDict | None
    ) -> ServerName:
        """The origin of a validly signed request for us.

        Args:
            header: The `Authorization` header, if any.
            method: The HTTP method.
            uri: The raw request target (path and query) as received.
            content: The JSON body, or None when the request has none.

        Raises:
            MatrixError: 401 `M_UNAUTHORIZED` for a missing, malformed, misdirected or badly
                signed request; 403 `M_FORBIDDEN` for an origin outside the allow list;
                429 `M_LIMIT_EXCEEDED` when the origin sends too much.
        """
        if self._verifier is None:
            raise MatrixError(M_UNAUTHORIZED, "Federation is disabled on this server")
        self._check_allowed(header)
        origin = await authenticate_request(
            header,
            method=method,
            uri=uri,
            content=content,
            our_server_name=self._server_name,
            verifier=self._verifier,
            now_ms=self._clock.time_ms(),
        )
        if self._origin_seen is not None:
            self._origin_seen(origin)
        self._limiter.check(_ACTION, origin, self._limit)
        return origin

    def _check_allowed(self, header: str | None) -> None:
        """Refuse a claimed origin outside the allow list before any key lookup (we would
        not fetch its keys anyway); an unparsable header is left to the signature check."""
        if self._allowlist is None or header is None:
            return
        try:
            origin = parse_authorization(header).origin
        except XMatrixParseError:
            return
        if origin not in self._allowlist:
            raise MatrixError(M_FORBIDDEN, "Federation with this server is not allowed")

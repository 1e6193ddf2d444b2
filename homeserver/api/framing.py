"""HTTP framing: the connection layer below the routes, answered in Matrix terms.

aiohttp parses each connection's bytes into requests before any middleware runs, so what goes
wrong there (an overlong request line or header, too many headers, a bad `Content-Length`,
`Transfer-Encoding` beside `Content-Length`, a bad chunk size) would reach the client as aiohttp's
plain-text 400. This module swaps in a request handler (the per-connection protocol) that answers
those as Matrix JSON errors (with the same CORS headers as routed responses; an overlong request
line is 414, an overlong header field 431), and that guards request heads and bodies while they
arrive:

- A request head (request line and headers) must arrive whole within the header timeout
  (`header_timeout_s`), counted from the connection's opening for its first request and from the
  head's first byte for later ones; a head still incomplete then is answered 408 and its
  connection closed (a new connection that sent nothing is closed silently). Without this, a
  client trickling header bytes would hold its connection until aiohttp's idle timeout (~1 h).
- A body that stalls for longer than the body timeout (no byte for `body_timeout_s`, counted only
  while the server is waiting for the client) is answered 408 and its connection closed.
- Each client IP may have at most `max_unfinished_bodies_per_ip` bodies arriving at once; a
  further one is answered 429 `M_LIMIT_EXCEEDED` and its connection closed.
- A framing error inside a body (a bad chunk size after the headers) is answered at once,
  instead of leaving the handler waiting for a body that never ends.

A refusal reaches the handler as the `MatrixError` raised by its next body read, so the error
middleware answers it like any other. Clients at fault are logged at DEBUG, never as errors.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from itertools import islice

from aiohttp import web
from aiohttp.http import HttpProcessingError, RawRequestMessage
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong, PayloadEncodingError
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo
from aiohttp.web_request import BaseRequest

from core.errors import M_LIMIT_EXCEEDED, M_NOT_JSON, M_TOO_LARGE, M_UNKNOWN, MatrixError
from homeserver.api.client_address import client_address
from homeserver.api.cors import cors_headers
from homeserver.api.http import json_response

logger = logging.getLogger(__name__)

# Exceptions that mean the client sent something broken or went away, not that we failed.
CLIENT_FAULTS = (MatrixError, HttpProcessingError, RequestPayloadError, ConnectionError)

# aiohttp's parser raises the same `LineTooLong` for the request line and for a header field,
# carrying the limit it crossed; different limits for the two tell them apart.
MAX_REQUEST_LINE_BYTES = 8192
MAX_HEADER_FIELD_BYTES = 8190


@dataclass(frozen=True, slots=True)
class FramingLimits:
    """Limits on request heads and bodies while they arrive, and what parser errors carry.

    Attributes:
        body_timeout_s: Longest wait for the next piece of a request body.
        max_unfinished_bodies_per_ip: Bodies one client IP may have arriving at once.
        trusted_proxies: Peers whose `X-Forwarded-For` names the client.
        header_timeout_s: Longest time a request head may take to arrive whole.
        cors_origins: Origins allowed by CORS, for the headers of parser-level errors.
    """

    body_timeout_s: float
    max_unfinished_bodies_per_ip: int
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    header_timeout_s: float = 30.0
    cors_origins: tuple[str, ...] = ()


def framing_error(status: int, exc: BaseException | None) -> MatrixError:
    """The Matrix error answering a request aiohttp could not parse, read or handle.

    Args:
        status: The status aiohttp chose (400 for parser errors, 500, 504).
        exc: The parser's exception, a `RequestPayloadError` from a body read, a refusal
            already in Matrix terms, or None.
    """
    if isinstance(exc, MatrixError):
        return exc
    if isinstance(exc, RequestPayloadError):
        cause = exc.__cause__
        exc = cause if isinstance(cause, HttpProcessingError) else None
        if exc is None:
            return MatrixError(M_NOT_JSON, "Could not read the request body")
        if isinstance(exc, LineTooLong):  # a chunk-size or trailer line, not the head
            return MatrixError(M_TOO_LARGE, "Chunk or trailer line too long", status=400)
    if isinstance(exc, LineTooLong) and exc.args[1] == MAX_REQUEST_LINE_BYTES:
        return MatrixError(M_TOO_LARGE, "Request line too long", status=414)
    if isinstance(exc, LineTooLong):
        return MatrixError(M_TOO_LARGE, "Header field too long", status=431)
    if isinstance(exc, BadHttpMessage) and exc.message == "Too many headers received":
        return MatrixError(M_TOO_LARGE, "Too many header fields", status=431)
    if isinstance(exc, PayloadEncodingError):
        return MatrixError(M_NOT_JSON, f"Could not read the request body: {_summary(exc)}")
    if isinstance(exc, HttpProcessingError):
        return MatrixError(M_UNKNOWN, f"Malformed HTTP request: {_summary(exc)}", status=400)
    if status == 504:
        return MatrixError(M_UNKNOWN, "Timed out handling the request", status=504)
    return MatrixError(M_UNKNOWN, "Internal server error", status=status)


def _summary(exc: HttpProcessingError) -> str:
    """The parser's description without the echoed bytes (`desc:\\n\\n  data\\n  ^`)."""
    text = exc.message.split(":\n", 1)[0].strip() or type(exc).__name__
    return text[:100]


class UnfinishedBodies:
    """How many request bodies each client IP has arriving; shared by a server's connections."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._counts: Counter[str] = Counter()

    def acquire(self, ip: str) -> bool:
        """Count one more body from `ip`; False (and nothing counted) if `ip` is at the limit."""
        if self._counts[ip] >= self._limit:
            return False
        self._counts[ip] += 1
        return True

    def release(self, ip: str) -> None:
        """One body from `ip` finished or was abandoned."""
        self._counts[ip] -= 1
        if self._counts[ip] <= 0:
            del self._counts[ip]

    def count(self, ip: str) -> int:
        """Bodies from `ip` arriving now."""
        return self._counts[ip]


class MatrixRequestHandler(RequestHandler):
    """aiohttp's per-connection protocol, with JSON parser errors and guarded heads and bodies."""

    __slots__ = (
        "_bodies",
        "_body_deadline",
        "_body_timer",
        "_head_bytes",
        "_head_since",
        "_head_timer",
        "_limits",
        "_unfinished",
    )

    def __init__(self, manager: MatrixServer, **kwargs: object) -> None:
        super().__init__(manager, **kwargs)  # type: ignore[arg-type]
        self._limits = manager.limits
        self._unfinished = manager.unfinished
        self._bodies: dict[StreamReader, str] = {}  # unfinished body -> client IP
        self._body_deadline = 0.0
        self._body_timer: asyncio.TimerHandle | None = None
        self._head_since: float | None = None  # when the awaited request head began
        self._head_bytes = False  # whether any byte of that head has arrived
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._start_head_clock()

    def data_received(self, data: bytes) -> None:
        """Parse as aiohttp does, then guard new bodies, fail broken ones and time heads."""
        queued = len(self._messages)
        in_body = bool(self._bodies)
        super().data_received(data)
        if len(self._messages) > queued:
            self._head_since, self._head_bytes = None, False  # a head arrived whole
        elif data and not in_body and not self._bodies and not self._close:
            self._start_head_clock()
            self._head_bytes = True
        if data and self._bodies:
            self._body_deadline = self._loop.time() + self._limits.body_timeout_s
        for message, payload in list(islice(self._messages, queued, None)):
            if isinstance(message, RawRequestMessage):
                self._guard(message, payload)
            elif self._bodies:
                self._fail_bodies(framing_error(400, getattr(message, "exc", None)))

    def connection_lost(self, exc: BaseException | None) -> None:
        """Release this connection's bodies from the per-IP count."""
        super().connection_lost(exc)
        for payload in list(self._bodies):
            self._release(payload)
        for timer in (self._body_timer, self._head_timer):
            if timer is not None:
                timer.cancel()
        self._body_timer = self._head_timer = None

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Answer a request aiohttp could not parse or handle with a Matrix JSON error."""
        if isinstance(exc, CLIENT_FAULTS):
            logger.debug("bad request peer=%s error=%r", request.remote, exc)
        else:
            logger.error("error handling request peer=%s", request.remote, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        error = framing_error(status, exc)
        response = json_response(error.to_json(), status=error.status)
        origin = request.headers.get("Origin")
        response.headers.update(cors_headers(self._limits.cors_origins, origin))
        response.force_close()
        return response

    def log_exception(self, *args: object, **kw: object) -> None:
        """aiohttp's own error log; a client's fault (a broken body, a disconnect) is DEBUG."""
        if isinstance(kw.get("exc_info"), CLIENT_FAULTS):
            logger.debug("connection closed on client error error=%r", kw["exc_info"])
            return
        super().log_exception(*args, **kw)

    def _start_head_clock(self) -> None:
        """Time the awaited request head from now, unless its clock already runs."""
        if self._head_since is None:
            self._head_since = self._loop.time()
        if self._head_timer is None:
            deadline = self._head_since + self._limits.header_timeout_s
            self._head_timer = self._loop.call_at(deadline, self._check_head)

    def _check_head(self) -> None:
        """Close the connection if the awaited head is overdue (answered 408 if it began)."""
        self._head_timer = None
        if self._head_since is None or self.transport is None or self._close:
            return
        now = self._loop.time()
        if self._reading_paused:  # our side is behind; the client is not stalling
            self._head_since = now
        if now < self._head_since + self._limits.header_timeout_s:
            self._start_head_clock()
            return
        if not self._head_bytes:
            logger.debug("connection sent no request peer=%s", self.peername)
            self.force_close()
            return
        logger.debug("request head timed out peer=%s", self.peername)
        self._close = True  # parse nothing more; close once the 408 is sent
        error = MatrixError(M_UNKNOWN, "Timed out reading the request head", status=408)
        self._messages.append(
            (_ErrInfo(status=408, exc=error, message=error.message), EMPTY_PAYLOAD)
        )
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _guard(self, message: RawRequestMessage, payload: StreamReader) -> None:
        if payload.is_eof() or payload.exception() is not None:
            return
        peer = self.peername
        host = peer[0] if isinstance(peer, tuple) else str(peer or "")
        forwarded = message.headers.get("X-Forwarded-For")
        ip = client_address(host, forwarded, self._limits.trusted_proxies)
        if not self._unfinished.acquire(ip):
            logger.debug("too many unfinished bodies ip=%s", ip)
            self._refuse(
                payload,
                MatrixError(
                    M_LIMIT_EXCEEDED,
                    "Too many request bodies arriving from this address",
                    extra={"retry_after_ms": int(self._limits.body_timeout_s * 1000)},
                ),
            )
            return
        self._bodies[payload] = ip
        payload.on_eof(functools.partial(self._release, payload))
        self._body_deadline = self._loop.time() + self._limits.body_timeout_s
        if self._body_timer is None:
            self._body_timer = self._loop.call_at(self._body_deadline, self._check_bodies)

    def _check_bodies(self) -> None:
        self._body_timer = None
        for payload in list(self._bodies):
            if payload.is_eof() or payload.exception() is not None:
                self._release(payload)
        if not self._bodies or self.transport is None:
            return
        now = self._loop.time()
        if self._reading_paused:  # our handler is behind; the client is not stalling
            self._body_deadline = now + self._limits.body_timeout_s
        if now < self._body_deadline:
            self._body_timer = self._loop.call_at(self._body_deadline, self._check_bodies)
            return
        logger.debug("request body timed out peer=%s", self.peername)
        self._fail_bodies(MatrixError(M_UNKNOWN, "Timed out reading the request body", status=408))

    def _fail_bodies(self, error: MatrixError) -> None:
        for payload in list(self._bodies):
            self._release(payload)
            self._refuse(payload, error)

    def _refuse(self, payload: StreamReader, error: MatrixError) -> None:
        """Make `payload`'s next read raise `error`, then close after the response."""
        payload.set_exception(error)
        payload.feed_eof()  # nothing more will be read: no lingering on this body
        self.close()

    def _release(self, payload: StreamReader) -> None:
        ip = self._bodies.pop(payload, None)
        if ip is not None:
            self._unfinished.release(ip)


class MatrixServer(web.Server):
    """aiohttp's low-level server, making `MatrixRequestHandler` connections."""

    def __init__(
        self,
        handler: Callable[..., object],
        *,
        limits: FramingLimits,
        **kwargs: object,
    ) -> None:
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE_BYTES)
        kwargs.setdefault("max_field_size", MAX_HEADER_FIELD_BYTES)
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]
        self.limits = limits
        self.unfinished = UnfinishedBodies(limits.max_unfinished_bodies_per_ip)

    def __call__(self) -> RequestHandler:
        """A protocol for one new connection."""
        return MatrixRequestHandler(self, loop=self._loop, **self._kwargs)


class MatrixAppRunner(web.AppRunner):
    """An `AppRunner` whose connections use `MatrixRequestHandler`.

    aiohttp has no public hook for the connection protocol class, so this takes the server
    `AppRunner` builds (after the app's startup) and rebuilds it as a `MatrixServer` with the
    same request handler, request factory and settings.
    """

    def __init__(self, app: web.Application, limits: FramingLimits, **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self._limits = limits

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return MatrixServer(
            plain.request_handler,
            limits=self._limits,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )

"""Middlewares: Matrix errors for every failure, CORS for browser clients, and paths that are
text.

Nothing leaves the server as an HTML error page or a traceback: protocol errors keep their
errcode and status, aiohttp's own HTTP errors map to `M_UNRECOGNIZED` / `M_TOO_LARGE`, and
anything unexpected is logged and answered `M_UNKNOWN` 500.

A path whose percent-encoding is not UTF-8 (`%FF`) is refused with 400 `M_INVALID_PARAM` before
routing: decoded, it would reach the handlers as U+FFFD, an identifier no client sent.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.typedefs import Handler

from core.errors import M_INVALID_PARAM, M_TOO_LARGE, M_UNKNOWN, M_UNRECOGNIZED, MatrixError
from homeserver.api.cors import cors_headers
from homeserver.api.framing import framing_error
from homeserver.api.http import json_response, services

logger = logging.getLogger(__name__)


def _error(exc: MatrixError) -> web.Response:
    response = json_response(exc.to_json(), status=exc.status)
    if exc.status == 429:
        response.headers["Retry-After"] = str(_retry_after_s(exc))
    return response


def _retry_after_s(exc: MatrixError) -> int:
    """`retry_after_ms` rounded up to whole seconds (RFC 9110 `Retry-After`), at least 1."""
    retry_ms = exc.extra.get("retry_after_ms")
    if not isinstance(retry_ms, int) or isinstance(retry_ms, bool) or retry_ms <= 0:
        return 1
    return -(-retry_ms // 1000)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a Matrix error response."""
    try:
        return await handler(request)
    except MatrixError as exc:
        return _error(exc)
    except web.HTTPException as exc:
        if exc.status == 404:
            return _error(MatrixError(M_UNRECOGNIZED, "Unrecognized request", status=404))
        if exc.status == 405:
            return _error(MatrixError(M_UNRECOGNIZED, "Unrecognized request", status=405))
        if exc.status == 413:
            return _error(MatrixError(M_TOO_LARGE, "Request body too large"))
        if exc.status >= 400:
            return _error(MatrixError(M_UNKNOWN, exc.reason, status=exc.status))
        raise
    except web.RequestPayloadError as exc:
        return _error(framing_error(400, exc))
    except Exception as exc:
        if isinstance(exc, ConnectionError) and _client_gone(request):
            logger.debug("client disconnected method=%s path=%s", request.method, request.path)
            return _error(MatrixError(M_UNKNOWN, "Client disconnected"))  # never delivered
        logger.exception("unhandled error method=%s path=%s", request.method, request.path)
        return _error(MatrixError(M_UNKNOWN, "Internal server error", status=500))


def _client_gone(request: web.Request) -> bool:
    """True once the client's connection is closed (its reads fail with `ConnectionError`)."""
    return request.transport is None or request.transport.is_closing()


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer preflights and add CORS headers to every response."""
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    origins = services(request).info.cors_origins
    response.headers.update(cors_headers(origins, request.headers.get("Origin")))
    return response


@web.middleware
async def path_encoding_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a path that is not UTF-8 once percent-decoded (inside `error_middleware`)."""
    if not is_utf8_path(request.raw_path):
        raise MatrixError(M_INVALID_PARAM, "The request path is not valid UTF-8")
    return await handler(request)


def is_utf8_path(raw_path: str) -> bool:
    """Whether the path part of `raw_path` (as sent, before decoding) is UTF-8 text."""
    path = raw_path.split("?", 1)[0]
    try:
        unquote_to_bytes(path).decode("utf-8")
    except UnicodeError:  # a bad escape, or a raw byte the parser kept as a surrogate
        return False
    return True

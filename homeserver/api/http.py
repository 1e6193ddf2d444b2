"""Request helpers shared by every handler: the services key, JSON in and out, authentication.

Handlers never touch raw bodies or headers themselves; what arrives is validated here and any
problem becomes the spec's error (`M_NOT_JSON`, `M_BAD_JSON`, `M_MISSING_TOKEN`, …).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, Final, overload

from aiohttp import web

from core.errors import M_INVALID_PARAM, M_MISSING_PARAM, M_TOO_LARGE, JsonDict, MatrixError
from core.json_ingress import parse_json_object
from homeserver.api.client_address import client_address
from homeserver.services.common.requester import Requester
from homeserver.services.container import Services

SERVICES = web.AppKey("services", Services)
REQUESTER = web.RequestKey("requester", Requester)
JSON_BODY: web.RequestKey[JsonDict] = web.RequestKey("json_body")
"""The request's parsed JSON body, once `read_json` read it (for telemetry's domain signals)."""
CLIENT_IP = web.RequestKey("client_ip", str)
"""The request's client address, once `client_ip` worked it out."""


def services(request: web.Request) -> Services:
    """The services of the app serving `request`."""
    return request.app[SERVICES]


def json_response(body: Any, status: int = 200) -> web.Response:
    """A JSON response (UTF-8, compact)."""
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def read_json(request: web.Request, max_bytes: int | None = None) -> JsonDict:
    """The request body as a JSON object (an empty body reads as `{}`).

    Every body passes `core.json_ingress`: size (`max_bytes`, else the server's body limit),
    depth, Unicode and number range are checked here; services refuse floats where the value
    becomes an event or is signed.

    Raises:
        MatrixError: `M_NOT_JSON`, `M_BAD_JSON` or `M_TOO_LARGE`.
    """
    limit = max_bytes if max_bytes is not None else services(request).info.max_request_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise MatrixError(M_TOO_LARGE, "Request body too large")
    # `read(n)` returns whatever has arrived so far, so keep reading until EOF or over limit.
    body = bytearray()
    while len(body) <= limit:
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise MatrixError(M_TOO_LARGE, "Request body too large")
    if not body.strip():
        return {}
    parsed = parse_json_object(bytes(body), max_bytes=limit)
    request[JSON_BODY] = parsed
    return parsed


def access_token(request: web.Request) -> str | None:
    """The access token from `Authorization: Bearer` or the deprecated query parameter."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return request.query.get("access_token") or None


async def authenticate(request: web.Request) -> Requester:
    """The authenticated requester; raises `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`."""
    cached = request.get(REQUESTER)
    if isinstance(cached, Requester):
        return cached
    svc = services(request)
    requester = await svc.tokens.authenticate(access_token(request))
    requester = dataclasses.replace(requester, client_ip=client_ip(request))
    request[REQUESTER] = requester
    await svc.devices.touch(requester, client_ip(request), svc.clock.time_ms())
    return requester


def client_ip(request: web.Request) -> str:
    """The client's address, honouring X-Forwarded-For only from trusted proxies."""
    cached = request.get(CLIENT_IP)
    if cached is None:
        forwarded = request.headers.get("X-Forwarded-For")
        proxies = services(request).info.trusted_proxies
        cached = request[CLIENT_IP] = client_address(request.remote or "", forwarded, proxies)
    return cached


def optional_str(body: JsonDict, key: str) -> str | None:
    """`body[key]` if it is a string, None if absent or null; `M_INVALID_PARAM` otherwise."""
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MatrixError(M_INVALID_PARAM, f"{key} must be a string")


def required_str(body: JsonDict, key: str) -> str:
    """`body[key]` as a string; `M_MISSING_PARAM` / `M_INVALID_PARAM` otherwise."""
    if key not in body:
        raise MatrixError(M_MISSING_PARAM, f"Missing {key}")
    value = optional_str(body, key)
    if value is None:
        raise MatrixError(M_INVALID_PARAM, f"{key} must be a string")
    return value


def optional_bool(body: JsonDict, key: str, default: bool) -> bool:
    """`body[key]` if it is a boolean, `default` if absent; `M_INVALID_PARAM` otherwise."""
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    raise MatrixError(M_INVALID_PARAM, f"{key} must be a boolean")


MAX_QUERY_INT: Final = 2**53 - 1
"""The largest integer a query parameter may carry (the spec's JSON integer range)."""

_DECIMAL: Final = re.compile(r"[0-9]{1,16}")


@overload
def query_int(
    query: Mapping[str, str], name: str, default: int, *, maximum: int = MAX_QUERY_INT
) -> int: ...
@overload
def query_int(
    query: Mapping[str, str], name: str, default: None = None, *, maximum: int = MAX_QUERY_INT
) -> int | None: ...
def query_int(
    query: Mapping[str, str], name: str, default: int | None = None, *, maximum: int = MAX_QUERY_INT
) -> int | None:
    """The integer query parameter `name`, or `default` when it is absent.

    The one rule for integers in query strings: ASCII decimal digits only (no sign, spaces,
    underscores or other scripts' digits), at most `maximum`; anything else is `M_INVALID_PARAM`.
    """
    raw = query.get(name)
    if raw is None:
        return default
    if _DECIMAL.fullmatch(raw) is None or int(raw) > maximum:
        raise MatrixError(M_INVALID_PARAM, f"{name} must be an integer from 0 to {maximum}")
    return int(raw)

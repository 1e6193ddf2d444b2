"""Registration: `/register`, `/register/available`, registration token validity."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_MISSING_PARAM, MatrixError
from homeserver.api.client.login import optional_device_id, session_json
from homeserver.api.http import (
    client_ip,
    json_response,
    optional_bool,
    optional_str,
    read_json,
    services,
)
from homeserver.api.routing import EndpointRoutes
from homeserver.services.accounts.accounts import RegistrationRequest

routes = EndpointRoutes()


@routes("register")
async def register(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/register."""
    svc = services(request)
    kind = request.query.get("kind", "user")
    if kind == "guest":
        raise MatrixError(M_FORBIDDEN, "Guest access is disabled")
    if kind != "user":
        raise MatrixError(M_INVALID_PARAM, "kind must be 'user' or 'guest'")
    body = await read_json(request)
    svc.limiter.check("register", client_ip(request), svc.limits.registration)
    registration = RegistrationRequest(
        username=optional_str(body, "username"),
        password=optional_str(body, "password"),
        device_id=optional_device_id(body),
        initial_device_display_name=optional_str(body, "initial_device_display_name"),
        inhibit_login=optional_bool(body, "inhibit_login", False),
        refresh_token=optional_bool(body, "refresh_token", False),
        auth=body.get("auth"),
    )
    result = await svc.accounts.register(registration)
    if result.tokens is None:
        return json_response({"user_id": result.user_id})
    return json_response(session_json(result.tokens, svc.info.server_name))


@routes("register_available")
async def available(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/register/available."""
    svc = services(request)
    svc.limiter.check("register", client_ip(request), svc.limits.registration)
    username = request.query.get("username")
    if not username:
        raise MatrixError(M_MISSING_PARAM, "Missing username")
    await svc.accounts.check_username_available(username)
    return json_response({"available": True})


@routes("registration_token_validity")
async def token_validity(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v1/register/m.login.registration_token/validity."""
    svc = services(request)
    svc.limiter.check("register", client_ip(request), svc.limits.registration)
    token = request.query.get("token")
    if not token:
        raise MatrixError(M_MISSING_PARAM, "Missing token")
    return json_response({"valid": await svc.accounts.registration_token_valid(token)})

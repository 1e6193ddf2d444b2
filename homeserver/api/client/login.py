"""Sessions: `/login`, `/logout`, `/logout/all`, `/refresh`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_INVALID_PARAM, JsonDict, MatrixError
from core.identifiers import DeviceId
from homeserver.api.http import (
    authenticate,
    client_ip,
    json_response,
    optional_bool,
    optional_str,
    read_json,
    required_str,
    services,
)
from homeserver.api.routing import EndpointRoutes
from homeserver.services.accounts.login import LoginRequest
from homeserver.services.accounts.tokens import IssuedTokens
from homeserver.services.common.params import checked_device_id

routes = EndpointRoutes()


def optional_device_id(body: JsonDict) -> DeviceId | None:
    """The `device_id` of a login or registration body, validated; None when absent."""
    value = optional_str(body, "device_id")
    return None if value is None else checked_device_id(value)


def session_json(tokens: IssuedTokens, server_name: str) -> JsonDict:
    """The login/registration response body for a new session."""
    body: JsonDict = {
        "user_id": tokens.user_id,
        "access_token": tokens.access_token,
        "device_id": tokens.device_id,
        "home_server": server_name,
    }
    if tokens.refresh_token is not None:
        body["refresh_token"] = tokens.refresh_token
        body["expires_in_ms"] = tokens.expires_in_ms
    return body


@routes("login_flows")
async def login_flows(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/login."""
    return json_response({"flows": services(request).login.flows()})


@routes("login")
async def login(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/login."""
    svc = services(request)
    body = await read_json(request)
    login_request = LoginRequest(
        type=required_str(body, "type"),
        body=body,
        device_id=optional_device_id(body),
        initial_device_display_name=optional_str(body, "initial_device_display_name"),
        refresh_token=optional_bool(body, "refresh_token", False),
        client_ip=client_ip(request),
    )
    tokens = await svc.login.login(login_request)
    response = session_json(tokens, svc.info.server_name)
    response["well_known"] = {"m.homeserver": {"base_url": svc.info.base_url}}
    return json_response(response)


@routes("logout")
async def logout(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/logout."""
    requester = await authenticate(request)
    await services(request).tokens.logout(requester)
    return json_response({})


@routes("logout_all")
async def logout_all(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/logout/all."""
    requester = await authenticate(request)
    await services(request).tokens.revoke_devices(requester.user_id, keep_device=None)
    return json_response({})


@routes("refresh")
async def refresh(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/refresh."""
    body = await read_json(request)
    token = body.get("refresh_token")
    if not isinstance(token, str):
        raise MatrixError(M_INVALID_PARAM, "refresh_token must be a string")
    tokens = await services(request).tokens.refresh(token)
    return json_response(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_in_ms": tokens.expires_in_ms,
        }
    )

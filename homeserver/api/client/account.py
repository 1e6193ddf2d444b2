"""Account management: `/account/whoami`, `/account/password`, `/account/deactivate`, and
OpenID tokens for third parties (`/user/{userId}/openid/request_token`)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.http import (
    authenticate,
    json_response,
    optional_bool,
    read_json,
    required_str,
    services,
)
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()


@routes("whoami")
async def whoami(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/account/whoami."""
    requester = await authenticate(request)
    return json_response(
        {"user_id": requester.user_id, "device_id": requester.device_id, "is_guest": False}
    )


@routes("change_password")
async def change_password(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/account/password."""
    requester = await authenticate(request)
    body = await read_json(request)
    await services(request).accounts.change_password(
        requester,
        required_str(body, "new_password"),
        logout_devices=optional_bool(body, "logout_devices", True),
        auth=body.get("auth"),
    )
    return json_response({})


@routes("deactivate")
async def deactivate(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/account/deactivate."""
    requester = await authenticate(request)
    body = await read_json(request)
    await services(request).accounts.deactivate(
        requester, erase=optional_bool(body, "erase", False), auth=body.get("auth")
    )
    return json_response({"id_server_unbind_result": "no-support"})


@routes("openid_request_token")
async def openid_request_token(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/user/{userId}/openid/request_token."""
    requester = await authenticate(request)
    await read_json(request)
    openid = services(request).openid
    return json_response(await openid.request_token(requester, request.match_info["userId"]))

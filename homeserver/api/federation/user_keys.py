"""Device lists and end-to-end encryption keys of our users, for other servers (spec
"Device Management" and "End-to-End Encryption" of the Server-Server API)."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.auth import federation_body, federation_routes
from homeserver.api.http import json_response, services

routes = federation_routes()


@routes("user_devices")
async def user_devices(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/user/devices/{userId}."""
    keys = services(request).federation_keys
    return json_response(await keys.user_devices(request.match_info["userId"]))


@routes("user_keys_query")
async def user_keys_query(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/federation/v1/user/keys/query."""
    body = await federation_body(request)
    return json_response(await services(request).federation_keys.query(body))


@routes("user_keys_claim")
async def user_keys_claim(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/federation/v1/user/keys/claim."""
    body = await federation_body(request)
    return json_response(await services(request).federation_keys.claim(body))

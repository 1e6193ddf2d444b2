"""End-to-end encryption keys: `/keys/upload`, `/keys/query`, `/keys/claim`, `/keys/changes`,
`/keys/device_signing/upload` and `/keys/signatures/upload`."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_MISSING_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()


@routes("keys_upload")
async def upload_keys(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/keys/upload."""
    requester = await authenticate(request)
    body = await read_json(request)
    return json_response(await services(request).e2e_keys.upload(requester, body))


@routes("keys_query")
async def query_keys(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/keys/query."""
    requester = await authenticate(request)
    body = await read_json(request)
    return json_response(await services(request).e2e_keys.query(requester, body))


@routes("keys_claim")
async def claim_keys(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/keys/claim."""
    requester = await authenticate(request)
    body = await read_json(request)
    return json_response(await services(request).e2e_keys.claim(requester, body))


@routes("keys_changes")
async def key_changes(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/keys/changes."""
    requester = await authenticate(request)
    from_token, to_token = request.query.get("from"), request.query.get("to")
    if not from_token or not to_token:
        raise MatrixError(M_MISSING_PARAM, "from and to are required")
    result = await services(request).e2e_keys.changes(requester, from_token, to_token)
    return json_response(result)


@routes("keys_device_signing_upload")
async def upload_cross_signing_keys(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/keys/device_signing/upload."""
    requester = await authenticate(request)
    body = await read_json(request)
    await services(request).cross_signing.upload_keys(
        requester, body, request_key="POST /keys/device_signing/upload"
    )
    return json_response({})


@routes("keys_signatures_upload")
async def upload_signatures(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/client/v3/keys/signatures/upload."""
    requester = await authenticate(request)
    body = await read_json(request)
    return json_response(await services(request).cross_signing.upload_signatures(requester, body))

"""Content repository, writing side: upload, create, config and URL previews.

Upload bodies are handed to the media service as a stream of chunks, never read whole here.
"""

from __future__ import annotations

from aiohttp import web

from core.errors import M_MISSING_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, query_int, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.media.repository import IncomingUpload

routes = EndpointRoutes()


def _incoming(request: web.Request) -> IncomingUpload:
    return IncomingUpload(
        content_type=request.headers.get("Content-Type"),
        filename=request.query.get("filename"),
        declared_size=request.content_length,
        chunks=request.content.iter_any(),
    )


@routes("upload")
async def upload(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/media/v3/upload."""
    requester = await authenticate(request)
    content_uri = await services(request).media.upload(requester, _incoming(request))
    return json_response({"content_uri": content_uri})


@routes("create_media")
async def create(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/media/v1/create."""
    requester = await authenticate(request)
    return json_response(await services(request).media.create(requester))


@routes("upload_to")
async def upload_to(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/media/v3/upload/{serverName}/{mediaId}."""
    requester = await authenticate(request)
    server_name, media_id = request.match_info["serverName"], request.match_info["mediaId"]
    await services(request).media.upload_to(requester, server_name, media_id, _incoming(request))
    return json_response({})


@routes("media_config", "media_config_legacy")
async def config(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v1/media/config (and the deprecated /_matrix/media/v3/config)."""
    await authenticate(request)
    return json_response(services(request).media.config())


@routes("preview_url", "preview_url_legacy")
async def preview_url(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v1/media/preview_url (and the deprecated v3 path)."""
    requester = await authenticate(request)
    url = request.query.get("url")
    if not url:
        raise MatrixError(M_MISSING_PARAM, "Missing url")
    query_int(request.query, "ts")  # validated; previews are always of the present
    return json_response(await services(request).url_previews.preview(requester, url))

"""Our media for other servers (Server-Server API "Content Repository").

Only this server's own uploads are served here, never the copies of other servers' media we
hold: an unknown, quarantined or not-our-own media ID is 404 `M_NOT_FOUND`. The answer is
`multipart/mixed` with two parts: the metadata JSON object (`{}`), then the bytes with their
`Content-Type` and a `Content-Disposition` chosen as for our own clients (`inline` only for
the spec's safe types, the upload's file name). The bytes stream from the store.
"""

from __future__ import annotations

from aiohttp import MultipartWriter, web
from aiohttp.payload import AsyncIterablePayload, BytesPayload, Payload

from homeserver.api.client.media_download import (
    INLINE_TYPES,
    content_disposition,
    thumbnail_filename,
    thumbnail_spec,
    timeout_ms,
)
from homeserver.api.federation.auth import federation_routes
from homeserver.api.http import services

routes = federation_routes()


def _multipart(media: Payload, disposition: str) -> web.Response:
    media.headers["Content-Disposition"] = disposition
    writer = MultipartWriter("mixed")
    writer.append_json({})
    writer.append_payload(media)
    return web.Response(body=writer)


@routes("federation_media_download")
async def download(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/media/download/{mediaId}."""
    svc = services(request)
    item = await svc.media.download(
        svc.info.server_name,
        request.match_info["mediaId"],
        timeout_ms=timeout_ms(request),
        legacy=False,
        allow_remote=False,
    )
    reader = await item.open(0, item.size)
    payload = AsyncIterablePayload(reader, content_type=item.content_type)
    payload.headers["Content-Length"] = str(item.size)
    base = item.content_type.split(";", 1)[0].strip().lower()
    inline = "inline" if base in INLINE_TYPES else "attachment"
    return _multipart(payload, content_disposition(inline, item.upload_name))


@routes("federation_media_thumbnail")
async def thumbnail(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/media/thumbnail/{mediaId}."""
    svc = services(request)
    thumb = await svc.media.thumbnail(
        svc.info.server_name,
        request.match_info["mediaId"],
        thumbnail_spec(request),
        timeout_ms=timeout_ms(request),
        legacy=False,
        allow_remote=False,
    )
    payload = BytesPayload(thumb.data, content_type=thumb.content_type)
    return _multipart(
        payload, content_disposition("inline", thumbnail_filename(thumb.content_type))
    )

"""Content repository, reading side: downloads and thumbnails, authenticated and legacy.

Every media response carries the spec's protective headers: a sandboxing
`Content-Security-Policy`, `X-Content-Type-Options: nosniff`,
`Cross-Origin-Resource-Policy: cross-origin`, and a `Content-Disposition` that is `inline` only
for the spec's list of types safe to render inline (attachment otherwise), with the file name
encoded per RFC 6266. Downloads support single byte ranges (`206`, `416`) and stream from the
store; the deprecated unauthenticated endpoints answer as the freeze decides. Other servers'
media is served from this server's copy, fetched over federation first unless the request
says `allow_remote=false`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web
from aiohttp.payload import AsyncIterablePayload

from core.errors import M_INVALID_PARAM, M_MISSING_PARAM, M_UNKNOWN, MatrixError
from homeserver.api.http import authenticate, json_response, query_int, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.media.render import ThumbnailSpec
from homeserver.services.media.repository import MediaDownload
from homeserver.services.media.thumbnails import Thumbnail

routes = EndpointRoutes()

CONTENT_SECURITY_POLICY = (
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf;"
    " style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"
)
# Spec: "Serving inline content".
INLINE_TYPES = frozenset(
    {
        "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
        "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
        "video/mp4", "video/webm", "video/ogg", "video/quicktime", "audio/mp4", "audio/webm",
        "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav", "audio/x-wav",
        "audio/x-pn-wav", "audio/flac", "audio/x-flac",
    }
)  # fmt: skip
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_DEFAULT_TIMEOUT_MS = 20_000
_MAX_DIMENSION = 10_000
_THUMB_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def content_disposition(disposition: str, filename: str | None) -> str:
    """`disposition` with the file name as RFC 6266 wants it (`filename*` for non-ASCII)."""
    if not filename:
        return disposition
    if all(0x20 <= ord(c) < 0x7F for c in filename) and not any(c in filename for c in '"\\'):
        return f'{disposition}; filename="{filename}"'
    return f"{disposition}; filename*=utf-8''{quote(filename, safe='!#$&+^`|')}"


def media_headers(
    content_type: str, filename: str | None, *, inline: bool | None = None
) -> dict[str, str]:
    """The headers every media response carries."""
    base = content_type.split(";", 1)[0].strip().lower()
    disposition = "inline" if (base in INLINE_TYPES if inline is None else inline) else "attachment"
    return {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(disposition, filename),
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }


class RangeNotSatisfiableError(Exception):
    """The requested range lies beyond the content (HTTP 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=` request, or None to send everything.

    Multiple ranges and malformed headers are ignored, as RFC 9110 allows.

    Raises:
        RangeNotSatisfiableError: The range starts beyond the content (or asks for 0 bytes).
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last N bytes
        if int(last) == 0:
            raise RangeNotSatisfiableError
        return max(0, size - int(last)), size
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid, so ignored
    if start >= size:
        raise RangeNotSatisfiableError
    return start, size if last == "" else min(int(last) + 1, size)


def timeout_ms(request: web.Request) -> int:
    """The `timeout_ms` query parameter (how long to wait for a pending upload)."""
    return query_int(request.query, "timeout_ms", _DEFAULT_TIMEOUT_MS)


def _allow_remote(request: web.Request) -> bool:
    value = request.query.get("allow_remote", "true").lower()
    if value not in ("true", "false"):
        raise MatrixError(M_INVALID_PARAM, "allow_remote must be true or false")
    return value == "true"


def thumbnail_spec(request: web.Request) -> ThumbnailSpec:
    """The thumbnail asked for by the query (`width`, `height`, `method`, `animated`)."""
    width = query_int(request.query, "width", maximum=_MAX_DIMENSION)
    height = query_int(request.query, "height", maximum=_MAX_DIMENSION)
    if width is None or height is None:
        raise MatrixError(M_MISSING_PARAM, "Missing width or height")
    if width == 0 or height == 0:
        raise MatrixError(M_INVALID_PARAM, f"width and height must be 1 to {_MAX_DIMENSION}")
    method = request.query.get("method", "scale")
    if method not in ("crop", "scale"):
        raise MatrixError(M_INVALID_PARAM, "method must be crop or scale")
    animated = request.query.get("animated", "false").lower()
    if animated not in ("true", "false"):
        raise MatrixError(M_INVALID_PARAM, "animated must be true or false")
    return ThumbnailSpec(width, height, method, animated == "true")


async def _file_response(request: web.Request, item: MediaDownload) -> web.StreamResponse:
    filename = request.match_info.get("fileName") or item.upload_name
    headers = media_headers(item.content_type, filename)
    headers["Accept-Ranges"] = "bytes"
    headers["ETag"] = f'"{item.media_id}"'  # media never changes once uploaded
    try:
        wanted = byte_range(request.headers.get("Range"), item.size)
    except RangeNotSatisfiableError:
        error = MatrixError(M_UNKNOWN, "Requested range not satisfiable", status=416)
        response = json_response(error.to_json(), status=416)
        response.headers["Content-Range"] = f"bytes */{item.size}"
        return response
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range != headers["ETag"]:
        wanted = None  # the client's copy is of something else: send it all
    start, end = wanted or (0, item.size)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{item.size}"
    headers["Content-Length"] = str(end - start)
    status = 206 if wanted is not None else 200
    if request.method == "HEAD":
        return web.Response(status=status, headers=headers)
    reader = await item.open(start, end)
    payload = AsyncIterablePayload(reader, content_type=item.content_type)
    return web.Response(status=status, headers=headers, body=payload)


def thumbnail_filename(content_type: str) -> str:
    """The file name a thumbnail of `content_type` is served under."""
    return f"thumbnail.{_THUMB_EXTENSIONS.get(content_type, 'png')}"


def _thumbnail_response(thumb: Thumbnail) -> web.Response:
    headers = media_headers(thumb.content_type, thumbnail_filename(thumb.content_type), inline=True)
    return web.Response(body=thumb.data, headers=headers)


@routes("download", "download_named")
async def download(request: web.Request) -> web.StreamResponse:
    """Spec: GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]."""
    await authenticate(request)
    item = await services(request).media.download(
        request.match_info["serverName"],
        request.match_info["mediaId"],
        timeout_ms=timeout_ms(request),
        legacy=False,
        allow_remote=_allow_remote(request),
    )
    return await _file_response(request, item)


@routes("thumbnail")
async def thumbnail(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}."""
    await authenticate(request)
    thumb = await services(request).media.thumbnail(
        request.match_info["serverName"],
        request.match_info["mediaId"],
        thumbnail_spec(request),
        timeout_ms=timeout_ms(request),
        legacy=False,
        allow_remote=_allow_remote(request),
    )
    return _thumbnail_response(thumb)


@routes("download_legacy", "download_named_legacy")
async def legacy_download(request: web.Request) -> web.StreamResponse:
    """Spec: GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (deprecated)."""
    item = await services(request).media.download(
        request.match_info["serverName"],
        request.match_info["mediaId"],
        timeout_ms=timeout_ms(request),
        legacy=True,
        allow_remote=_allow_remote(request),
    )
    return await _file_response(request, item)


@routes("thumbnail_legacy")
async def legacy_thumbnail(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} (deprecated)."""
    thumb = await services(request).media.thumbnail(
        request.match_info["serverName"],
        request.match_info["mediaId"],
        thumbnail_spec(request),
        timeout_ms=timeout_ms(request),
        legacy=True,
        allow_remote=_allow_remote(request),
    )
    return _thumbnail_response(thumb)

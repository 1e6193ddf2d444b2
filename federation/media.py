"""Fetching other servers' media over authenticated federation media (Server-Server API
"Content Repository": `GET /_matrix/federation/v1/media/download|thumbnail/{mediaId}`).

The answer is `multipart/mixed` with two parts: a JSON object of metadata (read up to 64 KiB
and checked, its content unused today), then either the bytes with their own `Content-Type`
and `Content-Disposition`, or a `Location` header naming where to get them (fetched with the
client's `open_url`, the IP policy checked on every hop).

Invariants: everything read from the answer is bounded. The whole multipart body may exceed
`max_bytes` only by the metadata and framing allowance, and the media itself is handed to the
caller as a stream that raises `MediaTooLargeError` before yielding more than `max_bytes` (a
declared length beyond it is refused before reading). A malformed answer, a failure to read it
and an error status are `FederationError`s naming the server; nothing here stores anything.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar, cast

import aiohttp
from aiohttp import BodyPartReader, MultipartReader, StreamReader
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from core.errors import MatrixError
from core.json_ingress import parse_json_object
from federation.client import QueryValue, path_segment
from federation.errors import FederationError

__all__ = ["MediaFetcher", "MediaTooLargeError", "RemoteFile", "StreamingClient"]

T = TypeVar("T")

_F1: Final = "/_matrix/federation/v1/media"
_MAX_METADATA_BYTES: Final = 64 * 1024
_FRAMING_ALLOWANCE: Final = 2 * _MAX_METADATA_BYTES
_CHUNK: Final = 64 * 1024
_IDENTITY: Final = frozenset({"", "identity", "binary", "8bit", "7bit"})


class MediaTooLargeError(FederationError):
    """The remote media is larger than we accept."""

    def __init__(self, destination: str) -> None:
        super().__init__(destination, "media too large", permanent=True)


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """Remote media being received: what the origin says of it and its bytes as they arrive.

    Attributes:
        content_type: The media's `Content-Type`, as sent (unchecked), if any.
        filename: The file name of its `Content-Disposition`, as sent (unchecked), if any.
        chunks: The bytes; raises `MediaTooLargeError` or `FederationError` while reading.
    """

    content_type: str | None
    filename: str | None
    chunks: AsyncIterable[bytes]


class StreamingClient(Protocol):
    """The part of the federation client media fetching uses."""

    def stream(
        self,
        destination: str,
        path: str,
        query: Mapping[str, QueryValue] | None = None,
        *,
        timeout_s: float,
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """A signed GET whose successful response the caller reads."""
        ...

    def open_url(
        self, destination: str, url: str, *, timeout_s: float, max_redirects: int = 3
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        """An unsigned, policy-checked GET of a URL a server sent."""
        ...


class MediaFetcher:
    """Downloads media and thumbnails from their origin server."""

    def __init__(self, client: StreamingClient) -> None:
        self._client = client

    async def download(
        self,
        destination: str,
        media_id: str,
        *,
        max_bytes: int,
        timeout_s: float,
        wait_ms: int,
        receive: Callable[[RemoteFile], Awaitable[T]],
    ) -> T:
        """Fetch `mxc://destination/media_id` and hand it to `receive` while it arrives.

        Args:
            destination: The origin server.
            media_id: The media ID (already checked by the caller).
            max_bytes: The largest media accepted.
            timeout_s: Deadline of the whole fetch (each request, redirects included).
            wait_ms: How long the origin may wait for a pending upload (`timeout_ms`).
            receive: Consumes the file; its result is returned.

        Raises:
            FederationError: The origin could not be asked, answered an error status or a
                malformed answer; `MediaTooLargeError` past `max_bytes`. Whatever `receive`
                raises passes through.
        """
        path = f"{_F1}/download/{path_segment(media_id)}"
        query: dict[str, QueryValue] = {"timeout_ms": wait_ms}
        return await self._fetch(destination, path, query, max_bytes, timeout_s, receive)

    async def thumbnail(
        self,
        destination: str,
        media_id: str,
        *,
        width: int,
        height: int,
        method: str,
        animated: bool,
        max_bytes: int,
        timeout_s: float,
        wait_ms: int,
        receive: Callable[[RemoteFile], Awaitable[T]],
    ) -> T:
        """Fetch a thumbnail of `mxc://destination/media_id`, as `download` does."""
        path = f"{_F1}/thumbnail/{path_segment(media_id)}"
        query: dict[str, QueryValue] = {
            "width": width,
            "height": height,
            "method": method,
            "animated": animated,
            "timeout_ms": wait_ms,
        }
        return await self._fetch(destination, path, query, max_bytes, timeout_s, receive)

    async def _fetch(
        self,
        destination: str,
        path: str,
        query: Mapping[str, QueryValue],
        max_bytes: int,
        timeout_s: float,
        receive: Callable[[RemoteFile], Awaitable[T]],
    ) -> T:
        async with self._client.stream(destination, path, query, timeout_s=timeout_s) as resp:
            _check_multipart(destination, resp)
            body = _BoundedStream(resp.content, destination, max_bytes + _FRAMING_ALLOWANCE)
            async with _reading(destination):
                reader = MultipartReader(resp.headers, cast(StreamReader, body))
                await _read_metadata(destination, reader)
                part = await reader.next()
            if not isinstance(part, BodyPartReader):
                raise FederationError(destination, "media answer has no media part")
            location = part.headers.get("Location")
            if location is not None:
                async with self._client.open_url(
                    destination, location, timeout_s=timeout_s
                ) as target:
                    return await receive(_from_response(destination, target, max_bytes))
            return await receive(_from_part(destination, part, max_bytes))


@asynccontextmanager
async def _reading(destination: str) -> AsyncIterator[None]:
    """Malformed multipart and read failures inside the block become `FederationError`s."""
    try:
        yield
    except (ValueError, HttpProcessingError, MatrixError) as exc:
        raise FederationError(
            destination, f"malformed media answer: {type(exc).__name__}"
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise FederationError(destination, f"reading failed: {type(exc).__name__}") from None


def _check_multipart(destination: str, resp: aiohttp.ClientResponse) -> None:
    mimetype = parse_mimetype(resp.headers.get("Content-Type", ""))
    if (mimetype.type, mimetype.subtype) != ("multipart", "mixed"):
        raise FederationError(destination, "media answer is not multipart/mixed")
    if not mimetype.parameters.get("boundary"):
        raise FederationError(destination, "media answer has no boundary")


async def _read_metadata(destination: str, reader: MultipartReader) -> None:
    """Read the first part, which must be a JSON object of at most 64 KiB."""
    part = await reader.next()
    if not isinstance(part, BodyPartReader):
        raise FederationError(destination, "media answer has no metadata part")
    raw = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        raw += chunk
        if len(raw) > _MAX_METADATA_BYTES:
            raise FederationError(destination, "media metadata too large")
    parse_json_object(bytes(raw), max_bytes=_MAX_METADATA_BYTES)


def _filename(disposition: str | None) -> str | None:
    if not disposition:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiohttp warns of malformed headers; we drop them
        try:
            _, params = parse_content_disposition(disposition)
            return content_disposition_filename(params, "filename")
        except ValueError:
            return None


def _check_length(destination: str, declared: str | None, max_bytes: int) -> None:
    if declared is None or not (declared.isascii() and declared.isdigit()):
        return  # no usable length: the count while reading decides
    if int(declared) > max_bytes:
        raise MediaTooLargeError(destination)


def _from_part(destination: str, part: BodyPartReader, max_bytes: int) -> RemoteFile:
    headers = part.headers
    for name in ("Content-Transfer-Encoding", "Content-Encoding"):
        if headers.get(name, "").strip().lower() not in _IDENTITY:
            raise FederationError(destination, f"media part has an unsupported {name}")
    _check_length(destination, headers.get("Content-Length"), max_bytes)

    async def chunks() -> AsyncIterator[bytes]:
        received = 0
        while True:
            async with _reading(destination):
                chunk = await part.read_chunk(_CHUNK)
            if not chunk:
                return
            received += len(chunk)
            if received > max_bytes:
                raise MediaTooLargeError(destination)
            yield chunk

    return RemoteFile(
        headers.get("Content-Type"), _filename(headers.get("Content-Disposition")), chunks()
    )


def _from_response(destination: str, resp: aiohttp.ClientResponse, max_bytes: int) -> RemoteFile:
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise MediaTooLargeError(destination)

    async def chunks() -> AsyncIterator[bytes]:
        received = 0
        iterator = resp.content.iter_chunked(_CHUNK).__aiter__()
        while True:
            async with _reading(destination):
                chunk = await anext(iterator, b"")
            if not chunk:
                return
            received += len(chunk)
            if received > max_bytes:
                raise MediaTooLargeError(destination)
            yield chunk

    return RemoteFile(
        resp.headers.get("Content-Type"),
        _filename(resp.headers.get("Content-Disposition")),
        chunks(),
    )


class _BoundedStream:
    """The response body as `MultipartReader` reads it, refusing to read more than `limit`
    bytes in all (preamble, headers, metadata and media together)."""

    def __init__(self, inner: StreamReader, destination: str, limit: int) -> None:
        self._inner = inner
        self._destination = destination
        self._left = limit

    def _count(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise MediaTooLargeError(self._destination)
        return data

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        """One line (bounded by aiohttp's line limit)."""
        return self._count(await self._inner.readline(max_line_length=max_line_length))

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (never all: the multipart reader always asks for a size)."""
        if n < 0:
            n = max(self._left, 0) + 1
        return self._count(await self._inner.read(n))

    def unread_data(self, data: bytes) -> None:
        """Push back bytes read too far (they will be counted again)."""
        self._left += len(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._inner.unread_data(data)

    def at_eof(self) -> bool:
        """Whether the whole body has been read."""
        return self._inner.at_eof()

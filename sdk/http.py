"""The I/O shell: sends `sdk.requests.Request`s over aiohttp, with bounded retries.

`HttpTransport` adds the base URL and the access token, decodes the answer and maps refusals to
`sdk.errors` through `error_from_response`. Retries: a 429 is always retried (the server did not
act), after `retry_after_ms` when given; a 5xx or a network failure is retried only when the
request is idempotent. Waits grow exponentially with jitter up to `RetryPolicy.max_delay_s`; after
`max_attempts` tries the last error is raised. Media bodies may stream: from a `FileSource` (read
again from the start on each attempt) and into a `FileSink` (restarted on each attempt), with a
socket-read timeout instead of a total one.

Invariants: the access token is sent only in the `Authorization` header and never logged or shown
in `repr`; request and response bodies are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from core.errors import JsonDict
from sdk.errors import (
    LimitExceededError,
    LocalProtocolError,
    MalformedResponseError,
    ServerError,
    TransportError,
    error_from_response,
)
from sdk.requests import Request
from sdk.transfer import DEFAULT_CHUNK_BYTES, FileSink, FileSource

__all__ = ["HttpTransport", "RawResponse", "RetryPolicy"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry.

    Attributes:
        max_attempts: Tries per request, the first included (1 disables retries).
        base_delay_s: The first backoff delay.
        max_delay_s: The longest backoff delay.
        max_retry_after_s: The longest `retry_after_ms` we honour; a longer wait is refused by
            raising the `LimitExceededError` at once.
        request_timeout_s: The total timeout of a request that names none itself.
    """

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 60.0
    request_timeout_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        """The delay before retry number `attempt` (1-based): exponential with jitter."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        # Jitter spreads reconnecting clients; it needs no cryptographic randomness.
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A successful response's bytes and headers (media downloads)."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        """The media type (without parameters)."""
        return self.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()


class HttpTransport:
    """Sends requests to one homeserver; owns its aiohttp session unless given one."""

    def __init__(
        self,
        homeserver_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = homeserver_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.access_token: str | None = None
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"HttpTransport({self.base_url!r}, logged_in={self.access_token is not None})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the aiohttp session if this transport created it."""
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()

    async def json(self, request: Request, *, source: FileSource | None = None) -> JsonDict:
        """Send `request` (its body streamed from `source` if given) and return its JSON
        object body.

        Raises:
            MatrixRequestError: The server refused (after retries where allowed).
            TransportError: The network failed (after retries where allowed).
            MalformedResponseError: The body was not a JSON object.
        """
        body = await self._decoded(request, source)
        if not isinstance(body, dict):
            raise MalformedResponseError(f"{request.method} {request.path}: not a JSON object")
        return body

    async def json_list(self, request: Request) -> list[Any]:
        """Send `request` and return its JSON array body (as `json` does for objects)."""
        body = await self._decoded(request)
        if not isinstance(body, list):
            raise MalformedResponseError(f"{request.method} {request.path}: not a JSON array")
        return body

    async def _decoded(self, request: Request, source: FileSource | None = None) -> object:
        raw = await self.send(request, source=source)
        try:
            return json.loads(raw.body)
        except ValueError as exc:
            raise MalformedResponseError(f"{request.method} {request.path}: not JSON") from exc

    async def send(
        self, request: Request, *, source: FileSource | None = None, sink: FileSink | None = None
    ) -> RawResponse:
        """Send `request` with retries and return the successful raw response.

        Args:
            request: What to send.
            source: Stream the request body from this file (instead of `request.body`); each
                attempt reads it again from the start.
            sink: Stream a successful response body into this sink (restarted on each
                attempt; the caller commits or aborts it); the returned body is then empty.
        """
        attempt = 1
        while True:
            try:
                return await self._send_once(request, source, sink)
            except LimitExceededError as exc:
                delay = self._retry_after(exc, attempt)
                if delay is None:
                    raise
            except (ServerError, TransportError):
                if not request.idempotent or attempt >= self.retry.max_attempts:
                    raise
                delay = self.retry.backoff(attempt)
            logger.info(
                "retrying method=%s path=%s attempt=%d delay_s=%.2f",
                request.method,
                request.path,
                attempt,
                delay,
            )
            await self._sleep(delay)
            attempt += 1

    def _retry_after(self, exc: LimitExceededError, attempt: int) -> float | None:
        if attempt >= self.retry.max_attempts:
            return None
        if exc.retry_after_ms is None:
            return self.retry.backoff(attempt)
        delay = exc.retry_after_ms / 1000
        return delay if delay <= self.retry.max_retry_after_s else None

    def _headers(self, request: Request) -> dict[str, str]:
        headers: dict[str, str] = {}
        if request.requires_auth:
            if self.access_token is None:
                raise LocalProtocolError(f"{request.method} {request.path} needs a login")
            headers["Authorization"] = f"Bearer {self.access_token}"
        if isinstance(request.body, bytes) or request.content_type is not None:
            headers["Content-Type"] = request.content_type or "application/octet-stream"
        return headers

    def _timeout(self, request: Request, streamed: bool) -> aiohttp.ClientTimeout:
        seconds = request.timeout_s or self.retry.request_timeout_s
        if streamed:
            # A streamed file may take longer than any total; only a stalled socket times out.
            return aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds)
        return aiohttp.ClientTimeout(total=seconds)

    async def _send_once(
        self, request: Request, source: FileSource | None, sink: FileSink | None
    ) -> RawResponse:
        url = URL(self.base_url + request.path, encoded=True)
        body = request.body
        data: bytes | AsyncIterator[bytes] | None = body if isinstance(body, bytes) else None
        json_body = body if isinstance(body, dict) else None
        request_headers = self._headers(request)
        if source is not None:
            data = source.chunks()
            request_headers["Content-Length"] = str(source.size)
        timeout = self._timeout(request, source is not None or sink is not None)
        try:
            async with self._client().request(
                request.method,
                url,
                params=list(request.query),
                headers=request_headers,
                data=data,
                json=json_body,
                timeout=timeout,
            ) as response:
                status, headers = response.status, response.headers
                if sink is not None and status < 400:
                    await _stream_into(response, sink)
                    payload = b""
                else:
                    payload = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.info(
                "request failed method=%s path=%s error=%s",
                request.method,
                request.path,
                type(exc).__name__,
            )
            raise TransportError(f"{request.method} {request.path}: {type(exc).__name__}") from exc
        logger.debug("response method=%s path=%s status=%d", request.method, request.path, status)
        if status >= 400:
            raise error_from_response(status, _decode_error(payload))
        return RawResponse(status, headers, payload)


async def _stream_into(response: aiohttp.ClientResponse, sink: FileSink) -> None:
    await sink.start(response.content_length)
    async for chunk in response.content.iter_chunked(DEFAULT_CHUNK_BYTES):
        await sink.write(chunk)


def _decode_error(payload: bytes) -> object:
    try:
        return json.loads(payload)
    except ValueError:
        return None

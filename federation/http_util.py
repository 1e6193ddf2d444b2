"""Small HTTP helpers shared by the federation client and the `.well-known` fetcher."""

from __future__ import annotations

from typing import Final

import aiohttp

__all__ = ["REDIRECT_STATUSES", "BodyTooLargeError", "read_limited"]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK: Final = 64 * 1024


class BodyTooLargeError(ValueError):
    """A response body is larger than the caller accepts."""


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read a response body, giving up as soon as it exceeds `limit` bytes.

    Raises:
        BodyTooLargeError: If the declared or actual length exceeds `limit`.
    """
    if resp.content_length is not None and resp.content_length > limit:
        raise BodyTooLargeError(f"response declares {resp.content_length} bytes")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"response larger than {limit} bytes")
    return bytes(body)

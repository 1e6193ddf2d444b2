"""CORS headers for browser clients, the same on every response the server sends.

Used by the CORS middleware for routed responses and by the framing layer for requests aiohttp
could not parse, so a browser can read either kind of error.
"""

from __future__ import annotations

CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, Date",
    "Access-Control-Expose-Headers": "Content-Disposition, Content-Range",
}


def cors_headers(allowed: tuple[str, ...], origin: str | None) -> dict[str, str]:
    """The CORS headers answering a request from `origin`.

    Args:
        allowed: The configured origins (`"*"` allows any).
        origin: The request's `Origin` header, or None (absent, or the head could not be parsed).
    """
    headers = dict(CORS_HEADERS)
    if "*" in allowed:
        headers["Access-Control-Allow-Origin"] = "*"
    elif origin is not None and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = "Origin"
    return headers

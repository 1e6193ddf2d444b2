"""The web client's static files, served at `/` beside the Matrix API.

The client is a separate npm project (`web/`) built into a directory of static files; this module
only serves that directory. It is a middleware, not a route, so the router still serves exactly
the shared endpoint table: a GET or HEAD that no endpoint matched, outside the API's prefixes,
gets the file at that path, or `index.html` for client-side routes (the SPA fallback).

Invariants: nothing outside the directory is ever served (paths are resolved and checked);
hashed build assets (`/assets/…`) are cached for a year, everything else is revalidated; every
response carries a strict Content-Security-Policy that still lets the crypto WebAssembly run.
When the directory has not been built, `/` answers with a page saying how to build it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["CONTENT_SECURITY_POLICY", "web_client_middleware"]

# 'wasm-unsafe-eval' allows compiling WebAssembly (the Rust crypto) and nothing else; media is
# fetched with the access token and shown through blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_API_PREFIXES = ("/_matrix/", "/_synapse/", "/.well-known/")
_TYPES = {
    ".wasm": "application/wasm",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
}
_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera</title></head>
<body><h1>Tessera homeserver</h1>
<p>The Matrix API is running. The web client has not been built yet:
run <code>make run</code>, or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>,
then reload this page.</p></body></html>
"""


def web_client_middleware(root: Path) -> Middleware:
    """A middleware serving the built client in `root` for requests no endpoint matched."""
    base = root.resolve()

    @web.middleware
    async def serve_web_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Serve a file or the SPA's `index.html` when the router found no endpoint."""
        if not _is_client_request(request):
            return await handler(request)
        return _respond(base, request.path)

    return serve_web_client


def _is_client_request(request: web.Request) -> bool:
    """True for a GET/HEAD that matched no endpoint and lies outside the API's prefixes."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.match_info.http_exception is None:
        return False
    return not request.path.startswith(_API_PREFIXES)


def _respond(base: Path, path: str) -> web.StreamResponse:
    """The file at `path` under `base`, else `index.html`, else the not-built page."""
    index = base / "index.html"
    if not index.is_file():
        response: web.StreamResponse = web.Response(
            text=_NOT_BUILT, content_type="text/html", status=200 if path == "/" else 404
        )
        response.headers["Cache-Control"] = REVALIDATE
    else:
        target = _file_under(base, path)
        served = target or index
        response = web.FileResponse(served)
        content_type = _TYPES.get(served.suffix) or mimetypes.guess_type(served.name)[0]
        response.content_type = content_type or "application/octet-stream"
        hashed = target is not None and path.startswith("/assets/")
        response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _file_under(base: Path, path: str) -> Path | None:
    """The regular file `path` names inside `base`, or None (missing, a directory, escaping)."""
    relative = path.lstrip("/")
    if not relative or "\x00" in relative:
        return None
    try:
        candidate = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate

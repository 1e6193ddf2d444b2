"""Server discovery and identity: `/.well-known/matrix/server` and the federation version."""

from __future__ import annotations

from importlib import metadata

from aiohttp import web

from core.errors import M_NOT_FOUND, MatrixError
from homeserver.api.federation.auth import federation_routes
from homeserver.api.http import json_response, services

routes = federation_routes()


def _version() -> str:
    try:
        return metadata.version("tessera")
    except metadata.PackageNotFoundError:
        return "unknown"


@routes("federation_version")
async def get_version(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/version."""
    return json_response({"server": {"name": "Tessera", "version": _version()}})


@routes("federation_well_known")
async def get_well_known(request: web.Request) -> web.Response:
    """Spec: GET /.well-known/matrix/server (only when `serve_well_known` is set)."""
    delegated = services(request).federation.serve_well_known
    if delegated is None:
        raise MatrixError(M_NOT_FOUND, "No server delegation is published here")
    return json_response({"m.server": delegated})

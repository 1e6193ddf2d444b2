"""Server discovery and capabilities: `/versions`, `/.well-known/matrix/client`, `/capabilities`."""

from __future__ import annotations

from aiohttp import web

from core.room_versions import KNOWN_ROOM_VERSIONS
from homeserver.api.http import authenticate, json_response, services
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()

SPEC_VERSIONS = ("r0.6.1", *(f"v1.{minor}" for minor in range(1, 13)))


@routes("versions")
async def versions(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/versions."""
    return json_response(
        {"versions": list(SPEC_VERSIONS), "unstable_features": {"org.matrix.msc2918": True}}
    )


@routes("well_known")
async def well_known(request: web.Request) -> web.Response:
    """Spec: GET /.well-known/matrix/client."""
    return json_response({"m.homeserver": {"base_url": services(request).info.base_url}})


@routes("capabilities")
async def capabilities(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/capabilities."""
    await authenticate(request)
    info = services(request).info
    available = {
        v.identifier: ("stable" if v.stable else "unstable") for v in KNOWN_ROOM_VERSIONS.values()
    }
    return json_response(
        {
            "capabilities": {
                "m.change_password": {"enabled": True},
                "m.room_versions": {
                    "default": info.default_room_version,
                    "available": available,
                },
                "m.set_displayname": {"enabled": True},
                "m.set_avatar_url": {"enabled": True},
                "m.3pid_changes": {"enabled": False},
                "m.get_login_token": {"enabled": False},
            }
        }
    )

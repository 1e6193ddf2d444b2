"""Queries other servers make of us: profiles and room aliases (spec "Querying for
information")."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.auth import federation_routes
from homeserver.api.http import json_response, services

routes = federation_routes()


@routes("query_profile")
async def query_profile(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/query/profile."""
    queries = services(request).federation.queries
    user_id, field = request.query.get("user_id"), request.query.get("field")
    return json_response(await queries.profile(user_id, field))


@routes("query_directory")
async def query_directory(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/query/directory."""
    queries = services(request).federation.queries
    return json_response(await queries.directory(request.query.get("room_alias")))

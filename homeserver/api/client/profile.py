"""Profiles: `/profile/{userId}` and its `displayname` / `avatar_url` fields."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_MISSING_PARAM, MatrixError
from core.identifiers import UserId
from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.accounts.profile import FIELDS
from homeserver.services.common.params import checked_user_id

routes = EndpointRoutes()


def _user_id(request: web.Request) -> UserId:
    return checked_user_id(request.match_info["userId"])


def _field(request: web.Request) -> str:
    field = request.match_info["keyName"]
    if field not in FIELDS:
        raise MatrixError("M_UNRECOGNIZED", "Unknown profile field", status=404)
    return field


@routes("get_profile")
async def get_profile(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/profile/{userId}."""
    return json_response(await services(request).profile.get_profile(_user_id(request)))


@routes("get_profile_field")
async def get_field(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/profile/{userId}/displayname|avatar_url."""
    field = _field(request)
    return json_response(await services(request).profile.get_field(_user_id(request), field))


@routes("set_profile_field")
async def set_field(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/profile/{userId}/displayname|avatar_url."""
    field = _field(request)
    requester = await authenticate(request)
    body = await read_json(request)
    if field not in body:
        raise MatrixError(M_MISSING_PARAM, f"Missing {field}")
    await services(request).profile.set_field(requester, _user_id(request), field, body[field])
    return json_response({})

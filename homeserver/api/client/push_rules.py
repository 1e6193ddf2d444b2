"""Push rules: `/pushrules/`, `/pushrules/{scope}/{kind}/{ruleId}` and its `enabled` and
`actions` attributes."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_MISSING_PARAM, MatrixError
from homeserver.api.http import authenticate, json_response, read_json, services
from homeserver.api.routing import EndpointRoutes

routes = EndpointRoutes()


@routes("get_push_rules", "get_push_rules_scope", "get_push_rules_kind")
async def get_push_rules(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/pushrules/ (and its `{scope}/` drill-down)."""
    requester = await authenticate(request)
    info = request.match_info
    rules = await services(request).push_rules.get_rules(
        requester.user_id, info.get("scope"), info.get("kind")
    )
    return json_response(rules)


@routes("get_push_rule")
async def get_push_rule(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}."""
    requester = await authenticate(request)
    info = request.match_info
    rule = await services(request).push_rules.get_rule(
        requester.user_id, info["scope"], info["kind"], info["ruleId"]
    )
    return json_response(rule)


@routes("set_push_rule")
async def put_push_rule(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}."""
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    await services(request).push_rules.put_rule(
        requester.user_id,
        info["scope"],
        info["kind"],
        info["ruleId"],
        body,
        before=request.query.get("before"),
        after=request.query.get("after"),
    )
    return json_response({})


@routes("delete_push_rule")
async def delete_push_rule(request: web.Request) -> web.Response:
    """Spec: DELETE /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}."""
    requester = await authenticate(request)
    info = request.match_info
    await services(request).push_rules.delete_rule(
        requester.user_id, info["scope"], info["kind"], info["ruleId"]
    )
    return json_response({})


async def _get_attribute(request: web.Request, attribute: str) -> web.Response:
    requester = await authenticate(request)
    info = request.match_info
    value = await services(request).push_rules.get_attribute(
        requester.user_id, info["scope"], info["kind"], info["ruleId"], attribute
    )
    return json_response(value)


async def _put_attribute(request: web.Request, attribute: str) -> web.Response:
    requester = await authenticate(request)
    body = await read_json(request)
    info = request.match_info
    if attribute not in body:
        raise MatrixError(M_MISSING_PARAM, f"Missing {attribute}")
    await services(request).push_rules.set_attribute(
        requester.user_id, info["scope"], info["kind"], info["ruleId"], attribute, body[attribute]
    )
    return json_response({})


@routes("get_push_rule_enabled")
async def get_push_rule_enabled(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/enabled."""
    return await _get_attribute(request, "enabled")


@routes("set_push_rule_enabled")
async def put_push_rule_enabled(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/enabled."""
    return await _put_attribute(request, "enabled")


@routes("get_push_rule_actions")
async def get_push_rule_actions(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions."""
    return await _get_attribute(request, "actions")


@routes("set_push_rule_actions")
async def put_push_rule_actions(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions."""
    return await _put_attribute(request, "actions")

"""Server keys: our key document and the notary queries (Server-Server API "Server Keys")."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_BAD_JSON, M_INVALID_PARAM, M_NOT_JSON, JsonDict, MatrixError
from core.identifiers import ServerName, parse_server_name
from homeserver.api.federation.auth import federation_body, federation_routes
from homeserver.api.http import json_response, query_int, services

routes = federation_routes()


def _server_name(value: str) -> ServerName:
    try:
        return parse_server_name(value)
    except ValueError:
        raise MatrixError(M_INVALID_PARAM, "Invalid server name") from None


def _minimum(criteria: object) -> int | None:
    """The largest `minimum_valid_until_ts` among the key criteria of one server, if any."""
    if not isinstance(criteria, dict):
        raise MatrixError(M_BAD_JSON, "Key criteria must be objects")
    found: list[int] = []
    for criterion in criteria.values():
        if not isinstance(criterion, dict):
            raise MatrixError(M_BAD_JSON, "Key criteria must be objects")
        value = criterion.get("minimum_valid_until_ts")
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise MatrixError(M_BAD_JSON, "minimum_valid_until_ts must be an integer")
        found.append(value)
    return max(found) if found else None


def parse_key_query(body: JsonDict | None) -> dict[ServerName, int | None]:
    """`{server_name: minimum_valid_until_ts}` from a `POST /_matrix/key/v2/query` body."""
    if body is None:
        raise MatrixError(M_NOT_JSON, "Missing body")
    server_keys = body.get("server_keys")
    if not isinstance(server_keys, dict):
        raise MatrixError(M_BAD_JSON, "server_keys must be an object")
    return {_server_name(name): _minimum(criteria) for name, criteria in server_keys.items()}


@routes("key_server")
async def get_server_keys(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/key/v2/server."""
    return json_response(services(request).federation.keys.own_document())


@routes("key_query")
async def query_server_keys(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/key/v2/query/{serverName}."""
    server = _server_name(request.match_info["serverName"])
    minimum = query_int(request.query, "minimum_valid_until_ts")
    return json_response(await services(request).federation.keys.query({server: minimum}))


@routes("key_query_batch")
async def query_keys_batch(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/key/v2/query."""
    criteria = parse_key_query(await federation_body(request))
    return json_response(await services(request).federation.keys.query(criteria))

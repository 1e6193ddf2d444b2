"""Events and state other servers read (Server-Server API "Retrieving events", "Room State",
"Backfilling and retrieving missing events", "Authorization")."""

from __future__ import annotations

from aiohttp import web

from core.errors import M_NOT_JSON, MatrixError
from homeserver.api.client.pagination import parse_timestamp_query
from homeserver.api.federation.auth import authenticate_origin, federation_body, federation_routes
from homeserver.api.http import json_response, query_int, services

routes = federation_routes()


@routes("get_event")
async def get_event(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/event/{eventId}."""
    origin = await authenticate_origin(request)
    reads = services(request).federation.reads
    return json_response(await reads.event(origin, request.match_info["eventId"]))


@routes("room_state")
async def room_state(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/state/{roomId}."""
    origin = await authenticate_origin(request)
    reads = services(request).federation.reads
    state, chain = await reads.state_ids(
        origin, request.match_info["roomId"], request.query.get("event_id")
    )
    return json_response({"pdus": [p.raw for p in state], "auth_chain": [p.raw for p in chain]})


@routes("room_state_ids")
async def room_state_ids(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/state_ids/{roomId}."""
    origin = await authenticate_origin(request)
    reads = services(request).federation.reads
    state, chain = await reads.state_ids(
        origin, request.match_info["roomId"], request.query.get("event_id")
    )
    return json_response(
        {"pdu_ids": [p.event_id for p in state], "auth_chain_ids": [p.event_id for p in chain]}
    )


@routes("event_auth")
async def event_auth(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}."""
    origin = await authenticate_origin(request)
    match = request.match_info
    reads = services(request).federation.reads
    return json_response(await reads.event_auth(origin, match["roomId"], match["eventId"]))


@routes("backfill")
async def backfill(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/backfill/{roomId}."""
    origin = await authenticate_origin(request)
    limit = query_int(request.query, "limit", 10)
    reads = services(request).federation.reads
    from_ids = request.query.getall("v", [])
    return json_response(
        await reads.backfill(origin, request.match_info["roomId"], from_ids, limit)
    )


@routes("federation_timestamp_to_event")
async def timestamp_to_event(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/timestamp_to_event/{roomId}."""
    origin = await authenticate_origin(request)
    ts, forwards = parse_timestamp_query(request.query)
    reads = services(request).federation.reads
    return json_response(
        await reads.timestamp_to_event(origin, request.match_info["roomId"], ts, forwards)
    )


@routes("get_missing_events")
async def get_missing_events(request: web.Request) -> web.Response:
    """Spec: POST /_matrix/federation/v1/get_missing_events/{roomId}."""
    origin = await authenticate_origin(request)
    body = await federation_body(request)
    if body is None:
        raise MatrixError(M_NOT_JSON, "Missing body")
    reads = services(request).federation.reads
    return json_response(await reads.missing_events(origin, request.match_info["roomId"], body))

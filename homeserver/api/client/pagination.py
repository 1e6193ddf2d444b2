"""Timeline pagination: `GET /rooms/{roomId}/messages`, `GET /rooms/{roomId}/context/{eventId}`
and `GET /rooms/{roomId}/timestamp_to_event` (where to start reading for a given time)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from core.errors import M_INVALID_PARAM, M_MISSING_PARAM, MatrixError
from core.filters import EventFilter
from core.json_ingress import parse_query_json
from homeserver.api.http import authenticate, json_response, query_int, services
from homeserver.api.routing import EndpointRoutes
from homeserver.services.common.params import checked_room_id, known_event_id
from homeserver.services.rooms.pagination import DEFAULT_LIMIT, MessagesQuery

routes = EndpointRoutes()


def parse_limit(query: Mapping[str, str], event_filter: EventFilter) -> int:
    """The `limit` query parameter, else the filter's limit, else the default."""
    limit = query_int(query, "limit")
    if limit is not None:
        return limit
    return event_filter.limit if event_filter.limit is not None else DEFAULT_LIMIT


def parse_filter(query: Mapping[str, str]) -> EventFilter:
    """The `filter` query parameter: a JSON `RoomEventFilter`."""
    raw = query.get("filter")
    if raw is None or not raw.strip():
        return EventFilter()
    return EventFilter.parse(parse_query_json(raw, "filter"))


def parse_messages_query(query: Mapping[str, str]) -> MessagesQuery:
    """Validate the query string of `/messages`."""
    direction = query.get("dir", "b")
    if direction not in ("b", "f"):
        raise MatrixError(M_INVALID_PARAM, "dir must be 'b' or 'f'")
    event_filter = parse_filter(query)
    return MessagesQuery(
        backwards=direction == "b",
        from_token=query.get("from") or None,
        to_token=query.get("to") or None,
        limit=parse_limit(query, event_filter),
        event_filter=event_filter,
    )


def parse_timestamp_query(query: Mapping[str, str]) -> tuple[int, bool]:
    """`(ts, forwards)` of a `timestamp_to_event` query (both parameters are required)."""
    ts = query_int(query, "ts")
    direction = query.get("dir")
    if ts is None or direction is None:
        raise MatrixError(M_MISSING_PARAM, "ts and dir are required")
    if direction not in ("b", "f"):
        raise MatrixError(M_INVALID_PARAM, "dir must be 'b' or 'f'")
    return ts, direction == "f"


@routes("messages")
async def messages(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/messages."""
    requester = await authenticate(request)
    query = parse_messages_query(request.query)
    room_id = checked_room_id(request.match_info["roomId"])
    body = await services(request).pagination.messages(requester, room_id, query)
    return json_response(body)


@routes("context")
async def context(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}."""
    requester = await authenticate(request)
    event_filter = parse_filter(request.query)
    limit = parse_limit(request.query, event_filter)
    info = request.match_info
    room_id, event_id = checked_room_id(info["roomId"]), known_event_id(info["eventId"])
    body = await services(request).pagination.context(
        requester, room_id, event_id, limit, event_filter
    )
    return json_response(body)


@routes("timestamp_to_event")
async def timestamp_to_event(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event."""
    requester = await authenticate(request)
    ts, forwards = parse_timestamp_query(request.query)
    timestamps = services(request).federation.timestamps
    body = await timestamps.closest(requester, request.match_info["roomId"], ts, forwards)
    return json_response(body)

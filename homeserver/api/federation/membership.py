"""Joining, leaving, knocking and inviting across servers (Server-Server API "Joining Rooms",
"Leaving Rooms", "Knocking upon a room", "Inviting to a room")."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.auth import authenticate_origin, federation_body, federation_routes
from homeserver.api.http import json_response, services

routes = federation_routes()


async def _make(request: web.Request, kind: str, versions: list[str]) -> web.Response:
    """The `make_{kind}` template for the user of the path (`versions`: those the asking
    server supports)."""
    origin = await authenticate_origin(request)
    match = request.match_info
    handshakes = services(request).federation.handshakes
    return json_response(
        await handshakes.make(origin, kind, match["roomId"], match["userId"], versions)
    )


async def _send(request: web.Request, kind: str) -> web.Response:
    """Take in the signed `send_{kind}` event of the body."""
    origin = await authenticate_origin(request)
    match, body = request.match_info, await federation_body(request)
    handshakes = services(request).federation.handshakes
    return json_response(
        await handshakes.send(origin, kind, match["roomId"], match["eventId"], body)
    )


@routes("make_join")
async def make_join(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/make_join/{roomId}/{userId}."""
    return await _make(request, "join", request.query.getall("ver", ["1"]))


@routes("send_join")
async def send_join(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}."""
    return await _send(request, "join")


@routes("make_leave")
async def make_leave(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/make_leave/{roomId}/{userId}."""
    return await _make(request, "leave", [])


@routes("send_leave")
async def send_leave(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}."""
    return await _send(request, "leave")


@routes("make_knock")
async def make_knock(request: web.Request) -> web.Response:
    """Spec: GET /_matrix/federation/v1/make_knock/{roomId}/{userId}."""
    return await _make(request, "knock", request.query.getall("ver", []))


@routes("send_knock")
async def send_knock(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}."""
    return await _send(request, "knock")


@routes("invite")
async def invite(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/federation/v2/invite/{roomId}/{eventId}."""
    origin = await authenticate_origin(request)
    match, body = request.match_info, await federation_body(request)
    invites = services(request).federation.invites
    return json_response(await invites.receive(origin, match["roomId"], match["eventId"], body))

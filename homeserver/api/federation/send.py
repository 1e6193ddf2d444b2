"""Transactions from other servers (Server-Server API "Transactions")."""

from __future__ import annotations

from aiohttp import web

from homeserver.api.federation.auth import authenticate_origin, federation_body, federation_routes
from homeserver.api.http import json_response, services

routes = federation_routes()


@routes("federation_send")
async def send_transaction(request: web.Request) -> web.Response:
    """Spec: PUT /_matrix/federation/v1/send/{txnId}."""
    origin = await authenticate_origin(request)
    body = await federation_body(request)
    transactions = services(request).federation.transactions
    return json_response(await transactions.receive(origin, request.match_info["txnId"], body))

"""The moderation middleware: refuse what moderation blocks, and record every request.

Runs inside the error middleware, once aiohttp has matched the route but before the handler
(and so before authentication and body parsing). A request from a blocked IP is answered
`403 M_FORBIDDEN` on every path, known or not. When the followed policy lists ban users, rooms
or servers, a banned local user is refused on every authenticated endpoint, a join or knock of
a banned room is refused, and a federation request whose `X-Matrix` origin is banned is
refused. Then, answered or refused, the request becomes a telemetry record
(`services.moderation.telemetry`): endpoint template, status and errcode, requester, sizes,
latency and its domain signal. Requests to the moderation admin API itself are not recorded,
so the moderation bot's own long polls do not feed back into what it reads.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import MatchInfoError

from core.endpoints import ENDPOINTS
from core.errors import M_UNKNOWN, M_UNRECOGNIZED, MatrixError
from homeserver.api.http import JSON_BODY, REQUESTER, authenticate, client_ip, services
from homeserver.services.moderation.service import ModerationService
from homeserver.services.moderation.signals import JOINS, join_target
from homeserver.services.moderation.telemetry import RequestRecord

__all__ = ["MODERATION", "moderation_middleware"]

logger = logging.getLogger(__name__)

MODERATION = web.AppKey("moderation", ModerationService)

_PARAM: Final = re.compile(r"\{([A-Za-z]+):[^{}]+\}")
_NOT_RECORDED: Final = "/_tessera/admin/v1/moderation/"
_FEDERATION: Final = "/_matrix/federation/"
_ORIGIN: Final = re.compile(r'origin="?([^",\s]+)"?')


def _route_names() -> Mapping[tuple[str, str], tuple[str, bool]]:
    """(method, route template as aiohttp spells it) -> (endpoint name, requires auth)."""
    names: dict[tuple[str, str], tuple[str, bool]] = {}
    for item in ENDPOINTS.values():
        for template in (item.template, *item.variants):
            names[(item.method, _PARAM.sub(r"{\1}", template))] = (item.name, item.requires_auth)
    return names


_NAMES: Final = _route_names()


def _template(request: web.Request) -> str | None:
    resource = getattr(request.match_info.route, "resource", None)
    if resource is None or isinstance(request.match_info, MatchInfoError):
        return None
    canonical = resource.canonical
    return canonical if isinstance(canonical, str) else None


async def _policy_refusal(
    moderation: ModerationService, request: web.Request, name: str | None, needs_auth: bool
) -> MatrixError | None:
    if needs_auth and moderation.bans_users:
        requester = await authenticate(request)
        refusal = moderation.user_refusal(requester.user_id)
        if refusal is not None:
            return refusal
    if name in JOINS:
        room = join_target(request.match_info)
        if room:
            return moderation.room_refusal(room)
    if request.path.startswith(_FEDERATION):
        found = _ORIGIN.search(request.headers.get("Authorization", ""))
        if found:
            return moderation.server_refusal(found.group(1))
    return None


@web.middleware
async def moderation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse blocked clients before routing; record every request's telemetry."""
    moderation = request.app.get(MODERATION)
    if moderation is None:  # moderation is off
        return await handler(request)
    ip = client_ip(request)
    started = time.perf_counter()
    ts = services(request).clock.time_ms()
    template = _template(request)
    name, needs_auth = _NAMES.get((request.method, template or ""), (None, False))

    async def record(status: int, errcode: str | None) -> None:
        if template is not None and template.startswith(_NOT_RECORDED):
            return
        size = request.content_length
        requester = request.get(REQUESTER)
        try:
            await moderation.observe(
                RequestRecord(
                    ts=ts,
                    ip=ip,
                    method=request.method,
                    endpoint=template,
                    status=status,
                    errcode=errcode,
                    user_id=requester.user_id if requester else None,
                    device_id=requester.device_id if requester else None,
                    body_bytes=size if size is not None else request.content.total_bytes,
                    latency_ms=(time.perf_counter() - started) * 1000,
                ),
                name,
                request.match_info,
                request.get(JSON_BODY),
            )
        except Exception:
            # Telemetry must never break the request it describes.
            logger.exception("recording telemetry failed method=%s", request.method)

    try:
        refusal = moderation.ip_refusal(ip) or await _policy_refusal(
            moderation, request, name, needs_auth
        )
        if refusal is not None:
            raise refusal
        response = await handler(request)
    except MatrixError as exc:
        await record(exc.status, exc.errcode)
        raise
    except web.HTTPException as exc:
        await record(exc.status, M_UNRECOGNIZED if exc.status in (404, 405) else M_UNKNOWN)
        raise
    except Exception:
        await record(500, M_UNKNOWN)
        raise
    await record(response.status, None)
    return response

"""What every domain builder shares: the server's name, clock, rate limiter, the `/sync`
notifier, the recent-events cache and the cache registry (the one the stores use)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from core.identifiers import ServerName, parse_server_name
from homeserver.caching import CacheRegistry
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.services.common.notifier import Notifier
from homeserver.services.common.ratelimit import RateLimiter
from homeserver.services.container import RequestLimits, ServerInfo
from homeserver.services.rooms.recent_events import RecentEvents


@dataclass(frozen=True, slots=True)
class Shared:
    """Collaborators used across domains; one of each per process."""

    server_name: ServerName
    clock: Clock
    limiter: RateLimiter
    notifier: Notifier
    recent: RecentEvents
    caches: CacheRegistry


def build_shared(
    config: Config, clock: Clock, caches: CacheRegistry, events_position: int
) -> Shared:
    """The shared collaborators; `events_position` is the events stream head at start-up."""
    return Shared(
        server_name=ServerName(parse_server_name(config.server_name)),
        clock=clock,
        limiter=RateLimiter(clock),
        notifier=Notifier(),
        recent=RecentEvents(events_position, caches),
        caches=caches,
    )


def server_info(config: Config, shared: Shared) -> ServerInfo:
    """Facts about this server that endpoints report."""
    return ServerInfo(
        server_name=shared.server_name,
        base_url=config.base_url,
        max_request_body_bytes=config.max_request_body_bytes,
        trusted_proxies=tuple(ipaddress.ip_network(n) for n in config.trusted_proxies),
        cors_origins=config.cors_origins,
        default_room_version=config.default_room_version,
    )


def request_limits(config: Config) -> RequestLimits:
    """The rate limits the API applies per IP or user."""
    return RequestLimits(registration=config.rate_limits.registration)

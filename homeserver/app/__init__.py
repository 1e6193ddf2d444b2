"""The composition root: configuration in, a running homeserver out.

`build_app` wires storage, services and routes; long-lived resources (the database) are owned
by aiohttp's cleanup context so they open before the first request and close on shutdown.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from aiohttp import web
from aiohttp.typedefs import Middleware

from homeserver.api.admin import media as media_admin_api
from homeserver.api.admin import moderation as moderation_admin_api
from homeserver.api.admin import retention as retention_admin_api
from homeserver.api.client import (
    account,
    account_data,
    devices,
    directory,
    keys,
    login,
    media,
    media_download,
    pagination,
    presence,
    profile,
    receipts,
    redaction,
    register,
    retention,
    room_reads,
    rooms,
    search,
    send,
    sync,
    versions,
)
from homeserver.api.client import key_backup as key_backup_api
from homeserver.api.client import push_rules as push_rules_api
from homeserver.api.client import to_device as to_device_api
from homeserver.api.client import typing as typing_api
from homeserver.api.federation import events as federation_events
from homeserver.api.federation import keys as federation_keys
from homeserver.api.federation import media as federation_media
from homeserver.api.federation import membership as federation_membership
from homeserver.api.federation import query as federation_query
from homeserver.api.federation import send as federation_send
from homeserver.api.federation import user_keys as federation_user_keys
from homeserver.api.federation import version as federation_version
from homeserver.api.federation.listener import federation_listener_middleware
from homeserver.api.framing import FramingLimits, MatrixAppRunner
from homeserver.api.middleware import cors_middleware, error_middleware, path_encoding_middleware
from homeserver.api.moderation_gate import moderation_middleware
from homeserver.api.web_client import web_client_middleware
from homeserver.app.app_keys import CLOCK, CONFIG, SIGNING_KEY, STORES
from homeserver.app.commands import (
    create_registration_token_cli,
    delete_registration_token_cli,
    list_registration_tokens_cli,
    register_user_cli,
)
from homeserver.app.contexts import (
    end_long_polls,
    ephemeral_ctx,
    federation_ctx,
    media_ctx,
    push_ctx,
    search_ctx,
    storage_ctx,
)
from homeserver.app.moderation_jobs import moderation_ctx
from homeserver.app.process import SHUTDOWN_GRACE_S, StartupError, serve, startup_step
from homeserver.app.retention_jobs import retention_ctx
from homeserver.app.wiring import build_services
from homeserver.clock import Clock, SystemClock
from homeserver.config import Config
from homeserver.keyfile import load_or_create_signing_key

logger = logging.getLogger(__name__)

__all__ = [
    "CONFIG",
    "SIGNING_KEY",
    "STORES",
    "StartupError",
    "build_app",
    "build_services",
    "create_registration_token_cli",
    "delete_registration_token_cli",
    "list_registration_tokens_cli",
    "make_runner",
    "register_user_cli",
    "run",
]

_ROUTE_MODULES = (
    versions,
    register,
    login,
    account,
    devices,
    profile,
    account_data,
    rooms,
    send,
    room_reads,
    pagination,
    redaction,
    directory,
    search,
    retention,
    typing_api,
    receipts,
    presence,
    sync,
    push_rules_api,
    media,
    media_download,
    media_admin_api,
    moderation_admin_api,
    retention_admin_api,
    keys,
    to_device_api,
    key_backup_api,
)

_FEDERATION_ROUTE_MODULES = (
    federation_version,
    federation_keys,
    federation_query,
    federation_send,
    federation_membership,
    federation_events,
    federation_user_keys,
    federation_media,
)


def build_app(config: Config, clock: Clock | None = None) -> web.Application:
    """The aiohttp application for `config` (storage opens on startup).

    Args:
        config: The server's configuration.
        clock: The time every service reads and sleeps on (the system clock if None).
    """
    middlewares: list[Middleware] = [cors_middleware, error_middleware]
    if config.moderation.enabled:
        middlewares.append(moderation_middleware)  # blocks before routing, records every request
    middlewares.append(path_encoding_middleware)
    if config.federation.enabled:
        middlewares.append(federation_listener_middleware)
    if config.web_client.enabled:
        middlewares.append(web_client_middleware(config.web_client_dir))
    app = web.Application(middlewares=middlewares, client_max_size=config.max_request_body_bytes)
    app[CONFIG] = config
    app[CLOCK] = clock if clock is not None else SystemClock()
    app[SIGNING_KEY] = load_or_create_signing_key(config.signing_key_file)
    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(ephemeral_ctx)
    app.cleanup_ctx.append(push_ctx)
    app.cleanup_ctx.append(search_ctx)
    app.cleanup_ctx.append(retention_ctx)
    app.cleanup_ctx.append(media_ctx)
    app.cleanup_ctx.append(federation_ctx)
    app.cleanup_ctx.append(moderation_ctx)
    app.on_shutdown.append(end_long_polls)
    for module in _ROUTE_MODULES:
        app.router.add_routes(module.routes)
    if config.federation.enabled:
        for module in _FEDERATION_ROUTE_MODULES:
            app.router.add_routes(module.routes)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner serving `app`: Matrix errors for broken HTTP, guarded request bodies."""
    config = app[CONFIG]
    limits = FramingLimits(
        body_timeout_s=config.request_body_timeout_ms / 1000,
        max_unfinished_bodies_per_ip=config.max_unfinished_bodies_per_ip,
        trusted_proxies=tuple(ipaddress.ip_network(n) for n in config.trusted_proxies),
        header_timeout_s=config.request_header_timeout_ms / 1000,
        cors_origins=config.cors_origins,
    )
    return MatrixAppRunner(app, limits, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)


def run(config: Config) -> None:
    """Serve until interrupted (SIGINT or SIGTERM), then shut down cleanly.

    Raises:
        StartupError: The server could not start; the message says why on one line.
    """
    with startup_step(f"read or create the signing key {config.signing_key_file}"):
        app = build_app(config)
    asyncio.run(serve(make_runner(app), config))

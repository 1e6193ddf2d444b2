"""Long-lived resources and background jobs, owned by aiohttp's cleanup context: storage (and
the pass sealing plaintext rows), typing and presence sweepers, push evaluation, search
indexing, media jobs, federation connections. Each starts before the first request and stops on
shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from homeserver.api.http import SERVICES
from homeserver.app.app_keys import CLOCK, CONFIG, SIGNING_KEY, STORES
from homeserver.app.process import (
    SHUTDOWN_GRACE_S,
    StartupError,
    safe_database_url,
    startup_step,
)
from homeserver.app.wiring import build_services
from homeserver.config import Config
from homeserver.storage.at_rest import AtRestSettings, DatabaseKeyError
from homeserver.storage.factory import open_stores
from homeserver.storage.reseal import reseal_plaintext_rows

logger = logging.getLogger(__name__)


def at_rest_settings(config: Config) -> AtRestSettings:
    """The database's encryption at rest, from the `database_encryption` section."""
    cfg = config.database_encryption
    return AtRestSettings(
        enabled=cfg.enabled, key_file=config.database_key_file, master_key=cfg.master_key
    )


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """The database (migrated to the current schema, its master key checked) and every service
    built on it; plaintext rows left from before encryption are sealed in the background."""
    config = app[CONFIG]
    try:
        with startup_step(f"open the database {safe_database_url(config.database_url)}"):
            stores = await open_stores(config.database_url, at_rest=at_rest_settings(config))
    except DatabaseKeyError as exc:
        raise StartupError(f"cannot unlock the database: {exc}") from exc
    app[STORES] = stores
    position = await stores.sync.events_position()
    app[SERVICES] = build_services(config, stores, app[CLOCK], app[SIGNING_KEY], position)
    logger.info("storage ready database=%s", config.database_url.split("://", 1)[0])
    reseal = asyncio.create_task(_reseal(app), name="database-reseal")
    yield
    reseal.cancel()
    await asyncio.gather(reseal, return_exceptions=True)
    logger.info("closing storage: writing queued events")
    await app[SERVICES].events.close()
    await stores.close()


async def _reseal(app: web.Application) -> None:
    """Seal rows written in plaintext before encryption at rest was on (see `reseal.py`)."""
    stores = app[STORES]
    try:
        await reseal_plaintext_rows(stores.db, stores.sealer)
    except Exception:
        # It runs again at the next start; until then plaintext rows read as they are.
        logger.exception("sealing plaintext rows failed")


async def ephemeral_ctx(app: web.Application) -> AsyncIterator[None]:
    """Typing expiry and presence timeouts, running while the app serves."""
    svc = app[SERVICES]
    tasks = [
        asyncio.create_task(svc.typing.run_expiry(), name="typing-expiry"),
        asyncio.create_task(svc.presence.run_timeouts(), name="presence-timeouts"),
    ]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await svc.presence.flush()


async def push_ctx(app: web.Application) -> AsyncIterator[None]:
    """Push rule evaluation for unread counts, catching up from its stored position."""
    task = asyncio.create_task(app[SERVICES].notifications.run(), name="push-notifications")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def search_ctx(app: web.Application) -> AsyncIterator[None]:
    """The search indexer, catching up from its stored position (when search is on)."""
    task = None
    if app[CONFIG].search.enabled:
        task = asyncio.create_task(app[SERVICES].search_index.run(), name="search-indexer")
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def media_ctx(app: web.Application) -> AsyncIterator[None]:
    """Media clean-up in the background; on shutdown, the thumbnail workers and fetcher."""
    svc = app[SERVICES]
    task = asyncio.create_task(svc.media_admin.run_cleanup(), name="media-cleanup")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await svc.url_previews.close()
    await svc.media.close()


async def federation_ctx(app: web.Application) -> AsyncIterator[None]:
    """The transaction sender and its feed of our events (resuming from their stored
    positions and queues); the outbound federation connections, closed on shutdown."""
    outbound = app[SERVICES].federation.outbound
    task = asyncio.create_task(outbound.run(), name="federation-sender") if outbound else None
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await app[SERVICES].federation.close()


async def end_long_polls(app: web.Application) -> None:
    """At shutdown, answer every waiting `/sync` now (with what it has) instead of at its timeout."""
    ended = app[SERVICES].notifier.close()
    logger.info(
        "shutting down: ended %d /sync long-polls, waiting up to %g s for requests in flight",
        ended,
        SHUTDOWN_GRACE_S,
    )

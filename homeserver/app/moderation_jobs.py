"""Moderation's start-up and background work, owned by aiohttp's cleanup context."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from homeserver.api.http import SERVICES
from homeserver.api.moderation_gate import MODERATION
from homeserver.app.app_keys import CLOCK, CONFIG, STORES
from homeserver.app.wiring.moderation import build_moderation

__all__ = ["moderation_ctx"]

logger = logging.getLogger(__name__)


async def moderation_ctx(app: web.Application) -> AsyncIterator[None]:
    """Stored IP blocks and policy rules loaded before the first request; the policy-room
    follower running while the app serves (when moderation is on)."""
    config = app[CONFIG]
    task = None
    if config.moderation.enabled:
        moderation = build_moderation(config, app[STORES], app[SERVICES], app[CLOCK])
        await moderation.ip_blocks.load()
        await moderation.policy.load()
        app[MODERATION] = moderation
        task = asyncio.create_task(moderation.policy.run(), name="moderation-policy-rooms")
        logger.info("moderation ready policy_rooms=%d", len(config.moderation.policy_rooms))
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

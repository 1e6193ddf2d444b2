"""Retention's background jobs, owned by aiohttp's cleanup context: the tracker following the
events stream, the self-destruct timers, the purge's deep scrub, and (when retention is on) the
periodic purge with room lifetimes. Each resumes from the database after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from homeserver.api.http import SERVICES


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """The retention jobs, running while the app serves."""
    retention = app[SERVICES].retention
    tasks = [
        asyncio.create_task(retention.tracker.run(), name="retention-tracker"),
        asyncio.create_task(retention.self_destruct.run(), name="self-destruct"),
        asyncio.create_task(retention.purger.run(), name="purge-scrub"),
    ]
    if retention.enabled:
        tasks.append(asyncio.create_task(retention.service.run(), name="retention-purge"))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

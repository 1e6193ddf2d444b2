"""Live-server helpers of the search tests: a searching user and waiting for the indexer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from homeserver.api.http import SERVICES
from homeserver.app.app_keys import STORES
from homeserver.config import Config
from tests.conftest import LiveServer, make_config
from tests.homeserver.api.helpers import register
from tests.homeserver.rooms.reads_helpers import User
from tests.waiting import wait_for


def search_config(database_url: str, data_dir: Path, **search: object) -> Config:
    """The tests' config (`make_config`, search's rate limit out of the way already) with
    these `search` settings."""
    config = make_config(database_url, data_dir)
    return replace(config, search=replace(config.search, **search))  # type: ignore[arg-type]


class Searcher(User):
    """A user who searches."""

    async def search(
        self, term: str, next_batch: str | None = None, **criteria: object
    ) -> tuple[int, Any]:
        """`POST /search` for `room_events`; returns the status and body."""
        body = {"search_categories": {"room_events": {"search_term": term, **criteria}}}
        return await self.request("POST", "/search", body, next_batch=next_batch)

    async def found(self, term: str, **criteria: object) -> Any:
        """The `room_events` of a search that must succeed."""
        status, body = await self.search(term, None, **criteria)
        assert status == 200, body
        return body["search_categories"]["room_events"]

    async def bodies(self, term: str, **criteria: object) -> list[str]:
        """The bodies of the results, in order."""
        found = await self.found(term, **criteria)
        return [r["result"]["content"]["body"] for r in found["results"]]

    async def every_page(self, term: str, **criteria: object) -> list[str]:
        """The result bodies of every page, following `next_batch` to the end."""
        bodies: list[str] = []
        token: str | None = None
        for _ in range(100):
            status, body = await self.search(term, token, **criteria)
            assert status == 200, body
            found = body["search_categories"]["room_events"]
            bodies += [r["result"]["content"]["body"] for r in found["results"]]
            token = found.get("next_batch")
            if token is None:
                return bodies
        raise AssertionError("pagination did not end")


async def searcher(http: aiohttp.ClientSession, server: LiveServer, name: str) -> Searcher:
    """Register `name` and return a client for it."""
    registered = await register(http, server.url, name)
    return Searcher(http, server.url, registered["user_id"], registered["access_token"])


async def indexed(server: LiveServer) -> None:
    """Wait until the indexer has reached every event persisted so far."""
    head = await server.app[STORES].room_reads.latest_position()
    indexer = server.app[SERVICES].search_index
    await wait_for(lambda: indexer.processed_position() >= head, what="search indexing")

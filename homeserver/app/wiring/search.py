"""Wiring the search domain: the indexer that follows the events stream and `/search`."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.app.wiring.rooms import RoomServices
from homeserver.app.wiring.shared import Shared
from homeserver.config import Config
from homeserver.services.search.indexer import SearchIndexer
from homeserver.services.search.service import SearchService
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class SearchServices:
    """The search domain's services."""

    search: SearchService
    search_index: SearchIndexer


def build_search(
    config: Config, stores: Stores, shared: Shared, rooms: RoomServices
) -> SearchServices:
    """The position-driven indexer and the search service on the rooms domain's read paths."""
    return SearchServices(
        search=SearchService(
            enabled=config.search.enabled,
            store=stores.search,
            reads=stores.room_reads,
            visibility=rooms.visibility,
            serializer=rooms.serializer,
            pagination=rooms.pagination,
            room_reads=rooms.room_reads,
            lookup=rooms.lookup,
            limiter=shared.limiter,
            limit=config.search.rate_limit,
        ),
        search_index=SearchIndexer(
            store=stores.search,
            reads=stores.room_reads,
            events=rooms.events,
            clock=shared.clock,
        ),
    )

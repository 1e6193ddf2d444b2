"""Stored and inline `/sync` filters.

Filter IDs are the decimal numbers this server hands out (0 upwards, per user); anything else,
including numbers beyond the column's range, names no filter (`M_NOT_FOUND`).
"""

from __future__ import annotations

import re

from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.filters import Filter
from core.identifiers import UserId
from core.json_ingress import parse_query_json
from homeserver.storage.rooms.sync_reads import SyncStore

# Filter IDs fit a signed 64-bit column; 18 decimal digits always do.
_FILTER_ID = re.compile(r"[0-9]{1,18}")


class FilterService:
    """Creates, reads and resolves filters."""

    def __init__(self, store: SyncStore) -> None:
        self._store = store

    async def create(self, user_id: UserId, definition: JsonDict) -> int:
        """Validate and store a filter; returns its ID."""
        Filter.parse(definition)
        return await self._store.add_filter(user_id, definition)

    async def get(self, user_id: UserId, filter_id: str) -> JsonDict | None:
        """A stored filter definition, or None."""
        if not _FILTER_ID.fullmatch(filter_id):
            return None
        return await self._store.get_filter(user_id, int(filter_id))

    async def resolve(self, user_id: UserId, value: str | None) -> Filter:
        """The filter named by a `/sync` `filter` parameter: an ID or inline JSON."""
        if value is None:
            return Filter()
        if value.lstrip().startswith("{"):
            return Filter.parse(parse_query_json(value, "filter"))
        definition = await self.get(user_id, value)
        if definition is None:
            raise MatrixError(M_NOT_FOUND, "No such filter")
        return Filter.parse(definition)

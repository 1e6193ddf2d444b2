"""Stored and inline `/sync` filters."""

from __future__ import annotations

import json

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.filters import Filter
from homeserver.storage.rooms.sync_reads import SyncStore


class FilterService:
    """Creates, reads and resolves filters."""

    def __init__(self, store: SyncStore) -> None:
        self._store = store

    async def create(self, user_id: str, definition: JsonDict) -> int:
        """Validate and store a filter; returns its ID."""
        Filter.parse(definition)
        return await self._store.add_filter(user_id, definition)

    async def get(self, user_id: str, filter_id: str) -> JsonDict | None:
        """A stored filter definition, or None."""
        if not filter_id.isdigit():
            return None
        return await self._store.get_filter(user_id, int(filter_id))

    async def resolve(self, user_id: str, value: str | None) -> Filter:
        """The filter named by a `/sync` `filter` parameter: an ID or inline JSON."""
        if value is None:
            return Filter()
        if value.lstrip().startswith("{"):
            try:
                return Filter.parse(json.loads(value))
            except ValueError as exc:
                raise MatrixError(M_INVALID_PARAM, "filter is not valid JSON") from exc
        definition = await self.get(user_id, value)
        if definition is None:
            raise MatrixError(M_NOT_FOUND, "No such filter")
        return Filter.parse(definition)

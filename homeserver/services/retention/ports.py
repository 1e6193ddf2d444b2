"""What the purge needs of other domains, declared here and wired by the composition root
(the service domains of one layer never import each other).

`SearchIndexPort` is the search indexer: it must take events out of its index while their JSON
can still be read, and it tells how far up the events stream it has indexed, so an event is
never purged while the indexer may still read its content. `MediaPurgePort` deletes media (the
files, thumbnails and rows) and says how many bytes that freed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.identifiers import EventId
from core.retention import MediaRef

__all__ = ["MediaPurgePort", "SearchIndexPort"]


class SearchIndexPort(Protocol):
    """The search index, as the purge uses it."""

    async def delete(self, event_ids: Sequence[EventId]) -> int:
        """Take the events out of the index (their JSON still readable); how many were in."""
        ...

    def processed_position(self) -> int:
        """The events stream position up to which events are indexed."""
        ...


class MediaPurgePort(Protocol):
    """The media repository, as the purge uses it."""

    async def delete_referenced(self, refs: Sequence[MediaRef]) -> int:
        """Delete these media (local uploads and copies of remote ones) with their
        thumbnails; returns the bytes freed."""
        ...

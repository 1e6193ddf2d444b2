"""Keeping the search index in step with the events: a position-driven consumer off the send path.

`EventService.persisted` only wakes the indexer (`on_event_persisted`); its background task
(`run`, owned by the app) reads the events stream after its stored position in batches and, in
one transaction per batch with the new position, indexes the searchable events (see
`core.search_text`) and takes out the targets of redactions. Events sent here and events
received over federation come down the same stream; history placed below the timeline
(negative stream orderings, from backfill) is followed downwards the same way. Sending never
waits for any of this.

Not indexed: encrypted events (the server cannot read them) and messages of rooms that have
turned encryption on (a plaintext message there is still not meant for a server index).

Removal needs the terms the event was indexed with on SQLite (see `storage/search`), which are
computed from the event's text, so it has to happen while the text can still be read:
- a local redaction prunes the stored JSON at once; `on_event_pruned` (the redaction service's
  `pruned` signal) takes the event out with the content it had;
- a redaction that arrives otherwise (from another server) is handled when the indexer reaches
  it, the target still holding its content;
- `delete` is for the retention purge and any other path that removes events: call it before
  the events' JSON is deleted or pruned.
One lock serialises batches and removals, so an event read before its pruning and indexed after
it is taken out again; a batch that finds a redaction's target already pruned leaves it to
`on_event_pruned`, which is waiting for the lock with the terms. A removal whose terms can no
longer be computed leaves an orphan document on SQLite. At start, `run` takes out redacted
or deleted events still indexed (a pruning whose signal was lost, a purge that did not call
`delete`) and rebuilds the index from the events if that, or anything earlier, left orphans.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import M_ROOM_ENCRYPTION, M_ROOM_REDACTION
from core.identifiers import EventId, RoomId
from core.room_versions import get_room_version
from core.search_text import searchable_text, terms
from homeserver.clock import Clock
from homeserver.services.common.stream_consumer import follow_stream
from homeserver.services.rooms.events import EventPersisted, EventService
from homeserver.services.rooms.redaction import EventPruned
from homeserver.storage.rooms.reads import RoomReadStore
from homeserver.storage.search.index import (
    FORWARD,
    HISTORY,
    Document,
    IndexSource,
    Removal,
    SearchStore,
)

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 500


class SearchIndexer:
    """Follows the events stream into the search index; removes events from it."""

    def __init__(
        self,
        *,
        store: SearchStore,
        reads: RoomReadStore,
        events: EventService,
        clock: Clock,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._store = store
        self._reads = reads
        self._events = events
        self._clock = clock
        self._batch_size = batch_size
        self._positions: dict[str, int] | None = None
        self._wake = asyncio.Event()
        # Batches and removals touch the same entries; one at a time (see the module docs).
        self._lock = asyncio.Lock()
        # Encryption cannot be turned off again, so a room found encrypted stays so.
        self._encrypted: set[RoomId] = set()
        self._versions: dict[RoomId, bool] = {}

    async def on_event_persisted(self, event: EventPersisted) -> None:
        """`EventService.persisted` handler: index the new event soon."""
        self._wake.set()

    async def on_event_pruned(self, pruned: EventPruned) -> None:
        """`RedactionService.pruned` handler: take the event out with the content it had."""
        async with self._lock:
            await self._store.apply([], [Removal(pruned.event_id, _terms_of(pruned.original))])

    async def delete(self, event_ids: Sequence[EventId]) -> int:
        """Take events out of the index while their JSON can still be read (retention calls
        this before purging them); returns how many were indexed."""
        if not event_ids:
            return 0
        async with self._lock:
            rows = await self._reads.events_by_id(event_ids)
            removals = [
                Removal(event_id, _terms_of(row.raw) if (row := rows.get(event_id)) else None)
                for event_id in dict.fromkeys(event_ids)
            ]
            return await self._store.apply([], removals)

    def processed_position(self) -> int:
        """The events stream position up to which events are indexed."""
        return self._positions[FORWARD] if self._positions is not None else 0

    async def run(self) -> None:
        """Index new events until cancelled, resuming from the stored position (and
        rebuilding first if an earlier removal left orphans)."""
        async with self._lock:
            # Redacted or deleted events still indexed (a pruning or purge not seen): out.
            await self._store.drop_stale()
        orphans = await self._store.orphan_count()
        if orphans:
            logger.warning("search index has orphans=%d: rebuilding it from the events", orphans)
            async with self._lock:
                await self._store.clear()
                self._positions = None
        await follow_stream(
            "search indexing",
            self.process_pending,
            self._wake,
            self._clock,
            self.processed_position,
        )

    async def process_pending(self) -> int:
        """Index one batch up the stream and one down the history; returns how many events
        were read."""
        self._wake.clear()
        async with self._lock:
            if self._positions is None:
                self._positions = await self._store.progress()
            positions = dict(self._positions)
            forward = await self._store.events_after(positions[FORWARD], self._batch_size)
            history = await self._store.events_below(positions[HISTORY], self._batch_size)
            if not forward and not history:
                return 0
            if forward:
                positions[FORWARD] = forward[-1].stream_ordering
            if history:
                positions[HISTORY] = history[-1].stream_ordering
            documents, removals = await self._changes([*forward, *history])
            await self._store.apply(documents, removals, positions)
            self._positions = positions
        return len(forward) + len(history)

    async def _changes(self, batch: Sequence[IndexSource]) -> tuple[list[Document], list[Removal]]:
        documents: dict[EventId, Document] = {}
        redacted: list[tuple[EventId, RoomId]] = []
        for source in batch:
            raw = source.raw
            if raw is None:
                continue
            if raw.get("type") == M_ROOM_REDACTION:
                target = await self._redacts(source.room_id, raw)
                if target is not None:
                    redacted.append((target, source.room_id))
                continue
            text = searchable_text(raw)
            found = tuple(terms(text[1])) if text is not None else ()
            if found and not await self._is_encrypted(source.room_id):
                documents[source.event_id] = Document(
                    source.stream_ordering, source.room_id, text[0] if text else "", found
                )
        for target, _ in redacted:
            documents.pop(target, None)
        return list(documents.values()), await self._removals(redacted)

    async def _removals(self, redacted: Sequence[tuple[EventId, RoomId]]) -> list[Removal]:
        if not redacted:
            return []
        indexed = await self._store.entries([target for target, _ in redacted])
        wanted = [(t, r) for t, r in redacted if t in indexed]
        rows = await self._reads.events_by_id([target for target, _ in wanted])
        removals: list[Removal] = []
        for target, room_id in wanted:
            row = rows.get(target)
            if row is None:
                removals.append(Removal(target, None))
                continue
            if row.room_id != room_id:  # a redaction acts in its own room only
                continue
            found = _terms_of(row.raw)
            if found is None and row.redacted_by is not None:
                # Pruned here: `on_event_pruned` brings the terms (it waits for this batch).
                continue
            removals.append(Removal(target, found))
        return removals

    async def _redacts(self, room_id: RoomId, raw: JsonDict) -> EventId | None:
        """The event a redaction names, read where the room's version keeps it."""
        in_content = self._versions.get(room_id)
        if in_content is None:
            version = get_room_version(await self._reads.room_version(room_id) or "")
            if version is None:
                return None
            in_content = self._versions[room_id] = version.redacts_in_content
        content = raw.get("content")
        value = content.get("redacts") if in_content and isinstance(content, dict) else None
        if not in_content:
            value = raw.get("redacts")
        return EventId(value) if isinstance(value, str) else None

    async def _is_encrypted(self, room_id: RoomId) -> bool:
        if room_id in self._encrypted:
            return True
        try:
            state = await self._events.current_state(room_id)
        except MatrixError as exc:
            if exc.errcode == M_NOT_FOUND:
                return False
            raise
        if (M_ROOM_ENCRYPTION, "") in state:
            self._encrypted.add(room_id)
            return True
        return False


def _terms_of(raw: JsonDict) -> tuple[str, ...] | None:
    """The terms an event is indexed with, or None if it has no searchable text."""
    found = searchable_text(raw)
    return tuple(terms(found[1])) if found is not None else None

"""The retention tracker: a position-driven consumer of the events stream recording, for every
event, the media its content names (`event_media`) and, for messages that ask for it, their
self-destruct timer (`event_expiries`).

Like the search indexer it follows the stream upwards and backfilled history downwards, from
positions stored with each batch (`TrackingStore.record`), so a restart resumes where it
stopped and events from other servers are tracked the same way as ours: a remote message's
self-destruct field is applied to our copy. The persisted-event signal only wakes it.

Read receipts start `org.matrix.self_destruct` timers (`on_receipt`, the receipt service's
signal); a timer recorded after its receipt starts from the stored receipt, so the order of
the two never matters. Each new or started timer wakes the self-destruct job (`on_timer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Final

from core.identifiers import EventId
from core.retention import MediaRef, media_refs, read_self_destruct
from homeserver.clock import Clock
from homeserver.services.common.stream_consumer import follow_stream
from homeserver.services.ephemeral.receipts import READ, READ_PRIVATE, ReceiptStored
from homeserver.services.rooms.events import EventPersisted
from homeserver.storage.retention.tracking import (
    TRACK,
    TRACK_HISTORY,
    Timer,
    TrackedEvent,
    TrackingStore,
)
from homeserver.storage.rooms.reads import RoomReadStore

__all__ = ["RetentionTracker"]

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 500


class RetentionTracker:
    """Records media references and self-destruct timers of new events."""

    def __init__(
        self,
        *,
        store: TrackingStore,
        reads: RoomReadStore,
        clock: Clock,
        on_timer: Callable[[], None] = lambda: None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._store = store
        self._reads = reads
        self._clock = clock
        self._on_timer = on_timer
        self._batch_size = batch_size
        self._positions: dict[str, int] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def on_event_persisted(self, event: EventPersisted) -> None:
        """`EventService.persisted` handler: track the new event soon."""
        self._wake.set()

    async def on_receipt(self, stored: ReceiptStored) -> None:
        """`ReceiptService.stored` handler: a read receipt starts the timers it covers."""
        receipt = stored.receipt
        if receipt.receipt_type not in (READ, READ_PRIVATE):
            return
        started = await self._store.start_read_timers(
            receipt.room_id, receipt.user_id, receipt.event_stream_ordering, receipt.ts
        )
        if started:
            self._on_timer()

    def position(self) -> int:
        """The events stream position up to which events are tracked."""
        return self._positions[TRACK] if self._positions is not None else 0

    async def run(self) -> None:
        """Track new events until cancelled, resuming from the stored positions."""
        if await self._store.reconcile_read_timers():
            self._on_timer()
        await follow_stream(
            "retention tracking", self.process_pending, self._wake, self._clock, self.position
        )

    async def process_pending(self) -> int:
        """Track one batch up the stream and one down the history; how many were read."""
        self._wake.clear()
        async with self._lock:
            if self._positions is None:
                self._positions = await self._store.positions()
            positions = dict(self._positions)
            forward = await self._store.events_after(positions[TRACK], self._batch_size)
            history = await self._store.events_below(positions[TRACK_HISTORY], self._batch_size)
            if not forward and not history:
                return 0
            if forward:
                positions[TRACK] = forward[-1].stream_ordering
            if history:
                positions[TRACK_HISTORY] = history[-1].stream_ordering
            refs, timers = await self._extract([*forward, *history])
            await self._store.record(refs, timers, positions)
            self._positions = positions
        if timers:
            self._on_timer()
        return len(forward) + len(history)

    async def _extract(
        self, batch: Sequence[TrackedEvent]
    ) -> tuple[list[tuple[EventId, MediaRef]], list[Timer]]:
        rows = await self._reads.events_by_id([e.event_id for e in batch])
        refs: list[tuple[EventId, MediaRef]] = []
        timers: list[Timer] = []
        for event in batch:
            row = rows.get(event.event_id)
            if row is None:
                continue
            refs.extend((event.event_id, ref) for ref in media_refs(row.raw.get("content")))
            if event.is_state:
                continue
            fields = read_self_destruct(row.raw)
            if fields.is_set:
                timers.append(
                    Timer(
                        event_id=event.event_id,
                        room_id=event.room_id,
                        stream_ordering=event.stream_ordering,
                        sender=event.sender,
                        expires_ts=fields.at_ms,
                        after_read_ms=fields.after_read_ms,
                    )
                )
        return refs, timers

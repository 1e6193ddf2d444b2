"""Unread notification counts (spec: "Receiving notifications", "Marking notifications as
read"): push rules evaluated for every new event, off the send path.

This is the model of a position-driven consumer of persisted events (see
`services.common.signals`). The `EventService.persisted` signal only wakes this service
(`on_event_persisted`); a background task (`run`, owned by the app) reads new events from the
events stream in batches, evaluates the push rules of every joined local member except the
sender against the room state at the event, and stores the results together with the stream
position they cover, in one transaction. After a restart it resumes from that position, so
nothing is lost or counted twice, and a lost wake-up only delays it until its idle poll.

A user's `m.read` / `m.read.private` receipt (unthreaded or `main`; counts are not split per
thread) and their own events mark the room read up to that event: the counts become those of
the notifying events after it. Every change of counts wakes the user's `/sync`, and `counts`
can wait briefly for the evaluation to reach a sync's position, so the count of a new event
normally arrives in the same sync response as the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER, M_ROOM_POWER_LEVELS, Membership
from core.events import Pdu
from core.identifiers import EventId, RoomId, UserId, server_name_of
from core.power_levels import get_user_power_level
from core.push_rules import PushContext, notification_levels
from homeserver.caching import CacheRegistry, LruCache
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.services.common.stream_consumer import follow_stream
from homeserver.services.ephemeral.receipts import (
    MAIN_THREAD,
    READ,
    READ_PRIVATE,
    ReceiptStored,
)
from homeserver.services.push.rules import PushRuleService
from homeserver.services.rooms.events import EventPersisted, EventService
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.storage.push.unread_counts import (
    Notification,
    NotificationStore,
    PushEvent,
    ReadMark,
)

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 200
SYNC_WAIT_SECONDS: Final = 0.5
# Events persisted by other paths (or other workers) are picked up at least this often.
_ROOM_CACHE_SIZE: Final = 2_000
# Evaluations between yields to the event loop, so a big batch never stalls requests.
_YIELD_EVERY: Final = 500


@dataclass(frozen=True, slots=True)
class RoomPushState:
    """What the push rules need of a room's state at an event.

    Attributes:
        local_members: Joined local users and their display names in the room.
        member_count: Joined members, local or not.
        power_state: The power levels and create events, for the sender's power level.
        levels: The power levels' `notifications` map.
    """

    local_members: Mapping[UserId, str | None]
    member_count: int
    power_state: Mapping[tuple[str, str], Pdu]
    levels: Mapping[str, int]


class NotificationService:
    """Evaluates push rules for new events and keeps unread counts per user and room."""

    def __init__(
        self,
        *,
        server_name: str,
        store: NotificationStore,
        events: EventService,
        push_rules: PushRuleService,
        notifier: Notifier,
        clock: Clock,
        caches: CacheRegistry,
        batch_size: int = BATCH_SIZE,
        sync_wait_seconds: float = SYNC_WAIT_SECONDS,
        expiry: EventExpiry | None = None,
    ) -> None:
        self._server_name = server_name
        self._expiry = expiry
        self._store = store
        self._events = events
        self._push_rules = push_rules
        self._notifier = notifier
        self._clock = clock
        self._batch_size = batch_size
        self._sync_wait = sync_wait_seconds
        self._processed = 0
        self._loaded = False
        self._running = False
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        # Batches and receipts change the same rows; one writer at a time.
        self._write_lock = asyncio.Lock()
        # Keyed by state group, which never changes: no invalidation.
        self._rooms: LruCache[tuple[RoomId, int], RoomPushState] = caches.lru(
            "push_room_state", _ROOM_CACHE_SIZE
        )

    async def on_event_persisted(self, event: EventPersisted) -> None:
        """`EventService.persisted` handler: a new event is stored; evaluate it soon."""
        self._wake.set()

    async def on_receipt(self, stored: ReceiptStored) -> None:
        """`ReceiptService.stored` handler: a read receipt moved; clear what it covers."""
        receipt = stored.receipt
        if receipt.receipt_type not in (READ, READ_PRIVATE):
            return
        if receipt.thread_id not in (None, MAIN_THREAD):
            return
        read = ReadMark(receipt.user_id, receipt.room_id, receipt.event_stream_ordering)
        async with self._write_lock:
            changed = await self._store.mark_read(read)
        if changed:
            self._notifier.notify([user_key(receipt.user_id)])

    async def counts(
        self, user_id: UserId, room_ids: Collection[RoomId], *, upto: int | None = None
    ) -> dict[RoomId, tuple[int, int]]:
        """`room_id -> (notification_count, highlight_count)` for each of `room_ids`.

        Args:
            user_id: The user.
            room_ids: The rooms to report (typically the user's joined rooms).
            upto: An events stream position (a sync's `next_batch`): wait up to a short bound
                for the evaluation to reach it, so its events are counted.
        """
        if upto is not None:
            await self._wait_for(upto)
        stored = await self._store.counts(user_id)
        return {room_id: stored.get(room_id, (0, 0)) for room_id in room_ids}

    def processed_position(self) -> int:
        """The events stream position up to which counts are evaluated."""
        return self._processed

    async def rooms_changed(self, user_id: UserId, after: int, upto: int) -> set[RoomId]:
        """Rooms whose counts rose because of events evaluated in (after, upto]."""
        if after >= upto:
            return set()
        return await self._store.rooms_notified_between(user_id, after, upto)

    async def run(self) -> None:
        """Evaluate new events until cancelled, resuming from the stored position."""
        self._processed = await self._store.progress()
        self._loaded = True
        self._running = True
        logger.info("push evaluation starting position=%s", self._processed)
        try:
            await follow_stream(
                "push evaluation",
                self.process_pending,
                self._wake,
                self._clock,
                lambda: self._processed,
            )
        finally:
            self._running = False

    async def process_pending(self) -> int:
        """Evaluate one batch of new events; returns how many there were."""
        self._wake.clear()
        if not self._loaded:
            self._processed = await self._store.progress()
            self._loaded = True
        batch = await self._store.events_after(self._processed, self._batch_size)
        if not batch:
            return 0
        notifications, reads = await self._evaluate(batch)
        upto = batch[-1].stream_ordering
        async with self._write_lock:
            changed = await self._store.apply_batch(notifications, reads, upto)
        self._processed = upto
        self._progress.set()
        self._progress = asyncio.Event()
        if changed:
            self._notifier.notify(sorted({user_key(user_id) for user_id, _ in changed}))
        return len(batch)

    async def _evaluate(self, batch: list[PushEvent]) -> tuple[list[Notification], list[ReadMark]]:
        notifications: list[Notification] = []
        reads: list[ReadMark] = []
        evaluations = 0
        expired = await self._expired(batch)
        for event in batch:
            sender = event.sender
            if self._is_local(sender):
                reads.append(ReadMark(sender, event.room_id, event.stream_ordering))
            if event.stream_ordering in expired:
                continue  # gone before it was evaluated: it never notifies
            room = await self._room_at(event)
            sender_level = get_user_power_level(sender, room.power_state)
            for user_id, display_name in room.local_members.items():
                if user_id == sender:
                    continue
                rules = await self._push_rules.compiled(user_id)
                context = PushContext(
                    user_id, display_name, room.member_count, sender_level, room.levels
                )
                result = rules.evaluate(event.raw, context)
                if result.notify:
                    notifications.append(
                        Notification(
                            user_id, event.room_id, event.stream_ordering, result.highlight
                        )
                    )
                evaluations += 1
                if evaluations % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        return notifications, reads

    async def _expired(self, batch: list[PushEvent]) -> set[int]:
        """Stream positions of the batch's events that have already expired."""
        if self._expiry is None:
            return set()
        by_room: dict[RoomId, list[PushEvent]] = {}
        for event in batch:
            by_room.setdefault(event.room_id, []).append(event)
        expired: set[int] = set()
        for room_id, events in by_room.items():
            # Keyed by position: a new event's expiry is a matter of time (no timer has
            # started and nothing is purged before the evaluation reached it).
            keys = {EventId(str(e.stream_ordering)): e.stream_ordering for e in events}
            gone = await self._expiry.expired(
                room_id, [(EventId(str(e.stream_ordering)), e.raw) for e in events]
            )
            expired.update(keys[e] for e in gone if e in keys)
        return expired

    async def _room_at(self, event: PushEvent) -> RoomPushState:
        key = (event.room_id, event.state_group)
        cached = self._rooms.get(key)
        if cached is not None:
            return cached
        state_ids = await self._events.state_ids_for_group(event.state_group)
        wanted = [
            event_id
            for (event_type, state_key), event_id in state_ids.items()
            if event_type == M_ROOM_MEMBER
            or (event_type in (M_ROOM_POWER_LEVELS, M_ROOM_CREATE) and state_key == "")
        ]
        pdus = await self._events.get_pdus(wanted)
        members: dict[UserId, str | None] = {}
        count = 0
        power_state: dict[tuple[str, str], Pdu] = {}
        for pdu in pdus:
            if pdu.type != M_ROOM_MEMBER:
                power_state[(pdu.type, "")] = pdu
                continue
            if pdu.membership != Membership.JOIN or pdu.state_key is None:
                continue
            count += 1
            member = UserId(pdu.state_key)  # a stored member event's key is a user ID
            if self._is_local(member):
                name = pdu.content.get("displayname")
                members[member] = name if isinstance(name, str) else None
        pl_event = power_state.get((M_ROOM_POWER_LEVELS, ""))
        state = RoomPushState(
            local_members=members,
            member_count=count,
            power_state=power_state,
            levels=notification_levels(pl_event.content if pl_event is not None else None),
        )
        self._rooms.put(key, state)
        return state

    async def _wait_for(self, position: int) -> None:
        deadline = self._clock.monotonic() + self._sync_wait
        while self._running and self._processed < position:
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except TimeoutError:
                return

    def _is_local(self, user_id: UserId) -> bool:
        return server_name_of(user_id) == self._server_name

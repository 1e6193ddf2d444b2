"""Expiring messages in `AsyncClient`: retention and self-destruct applied to the client's copy.

Every sync is shown to the `ExpiryTracker` (`sdk.expiry`): timeline events as received (so the
self-destruct fields beside an encrypted event's ciphertext count), read receipts, redactions and
room policies. `expire_due` drops what is due: from the room timelines, from the store (the
room records are rewritten, and the store runs with `secure_delete`, so the old copy does not
stay in the file) and from the local search index; then each expiry callback gets an
`ExpiredEvent`. While `sync_forever` runs, a timer calls it as each message's time comes.
The tracker's pending entries (times and self-destruct fields only, nothing of what was said)
are kept in the store, so a restarted client still drops messages on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

from core.errors import JsonDict
from sdk import requests
from sdk.api_base import ClientBase
from sdk.callbacks import run_callback
from sdk.expiry import ExpiredEvent, ExpiryTracker, limits_from_configuration
from sdk.responses import SyncResponse
from sdk.search import LocalSearch
from sdk.state import Room, SyncChanges

__all__ = ["ExpiryApi", "ExpiryCallback"]

logger = logging.getLogger(__name__)

ExpiryCallback = Callable[[Room, ExpiredEvent], Awaitable[None] | None]
"""Called with the room and each message the client dropped."""

_KV: Final = ("expiry", "pending")
_IDLE_S: Final = 60.0


class ExpiryApi(ClientBase):
    """The expiry part of `AsyncClient` (see the module docstring).

    Attributes:
        expiry: When each message the client holds expires.
    """

    local_search: LocalSearch | None

    def _init_expiry(self) -> None:
        self.expiry = ExpiryTracker()
        self._expiry_callbacks: list[ExpiryCallback] = []
        self._expiry_wake = asyncio.Event()
        self._expiry_loaded = False

    def add_expiry_callback(self, callback: ExpiryCallback) -> None:
        """Call `callback(room, expired)` for each message the client drops (expired by its
        room's retention, self-destructed, or redacted)."""
        self._expiry_callbacks.append(callback)

    async def fetch_retention_policy(self) -> JsonDict:
        """Ask the server for its retention policy (MSC1763) and apply it to expiries."""
        body = await self._http.json(requests.build("retention_configuration"))
        self.expiry.set_limits(limits_from_configuration(body))
        self._expiry_wake.set()
        return body

    async def _track_sync(self, response: SyncResponse) -> None:
        """Show one processed sync to the tracker."""
        await self._load_expiry()
        now = _now_ms()
        timelines = [(r, s.timeline) for r, s in response.rooms.join.items()]
        timelines += [(r, s.timeline) for r, s in response.rooms.leave.items()]
        for room_id, timeline in timelines:
            room = self.state.rooms[room_id]
            self.expiry.room_changed(room_id, room.state)
            for event in timeline.events:
                self.expiry.observe(event, room.state)
        for room_id, joined in response.rooms.join.items():
            for ephemeral in joined.ephemeral:
                if ephemeral.type == "m.receipt":
                    self.expiry.receipts(room_id, ephemeral.content, now)
        await self._save_expiry()
        self._expiry_wake.set()

    async def expire_due(self, now_ms: int | None = None) -> list[ExpiredEvent]:
        """Drop every message due at `now_ms` (now if None); returns them."""
        await self._load_expiry()
        gone = self.expiry.due(_now_ms() if now_ms is None else now_ms)
        if not gone:
            return []
        ids = {e.event_id for e in gone}
        rooms: set[str] = set()
        for room in self.state.rooms.values():
            kept = [e for e in room.timeline if e.event_id not in ids]
            if len(kept) != len(room.timeline):
                room.timeline.clear()
                room.timeline.extend(kept)
                rooms.add(room.room_id)
        if self.local_search is not None:
            try:
                await self.local_search.remove(sorted(ids))
            except Exception as exc:
                logger.warning("local search removal failed error=%s", type(exc).__name__)
        if self.store is not None:
            await self.store.save_sync(self.state, SyncChanges(rooms=frozenset(rooms)))
            await self._save_expiry()
            await self.store.scrub()
        for expired in gone:
            room = self.state.rooms.get(expired.room_id) or Room(expired.room_id)
            for callback in list(self._expiry_callbacks):
                await run_callback(callback, room, expired)
        return gone

    async def _expire_loop(self, stop: asyncio.Event) -> None:
        """Until `stop`: drop messages as their times come."""
        while not stop.is_set():
            self._expiry_wake.clear()
            try:
                await self.expire_due()
            except Exception as exc:
                logger.warning("expiry failed error=%s", type(exc).__name__)
            due = self.expiry.next_due()
            wait = _IDLE_S if due is None else min(_IDLE_S, max(0.0, (due - _now_ms()) / 1000))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._expiry_wake.wait(), wait)

    async def _load_expiry(self) -> None:
        if self._expiry_loaded:
            return
        self._expiry_loaded = True
        if self.store is None:
            return
        saved = await self.store.kv_get_json(*_KV)
        if saved is not None:
            self.expiry.restore(saved)
        for room_id, room in self.state.rooms.items():
            self.expiry.room_changed(room_id, room.state)

    async def _save_expiry(self) -> None:
        if self.store is not None:
            await self.store.kv_put_json(*_KV, self.expiry.snapshot())


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

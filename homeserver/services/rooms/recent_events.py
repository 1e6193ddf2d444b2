"""The recent-events cache: what `/sync` reads instead of the database on the hot path.

Every event this process persists is appended here in stream order. For each room the cache
knows the position from which its list is complete (`floor`); a sync whose token is at or
after that position is answered from memory, an older one falls back to the database.

It is filled from this process's commits only, so it assumes a single writer process (see
`homeserver.caching`); its map of recent client transaction IDs is an `LruCache`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from core.event_types import M_ROOM_MEMBER
from core.events import Pdu
from core.identifiers import DeviceId, EventId, RoomId, UserId
from homeserver.caching import CacheRegistry, LruCache
from homeserver.storage.rooms.events import TxnKey

PER_ROOM = 200
MAX_TXNS = 100_000


@dataclass(slots=True)
class _RoomLog:
    floor: int
    events: deque[tuple[int, Pdu]]


class RecentEvents:
    """Recent events per room, and the highest persisted stream position."""

    def __init__(
        self, start_position: int, caches: CacheRegistry, per_room: int = PER_ROOM
    ) -> None:
        self._start = start_position
        self._per_room = per_room
        self._rooms: dict[RoomId, _RoomLog] = {}
        self._txns: LruCache[EventId, TxnKey] = caches.lru("recent_txn_ids", MAX_TXNS)
        self.position = start_position
        # Before start-up we know nothing, so the start counts as a membership change.
        self._member_position = start_position

    def append(self, stream: int, pdu: Pdu, txn: TxnKey | None = None) -> None:
        """Record a newly persisted event (positions arrive in increasing order)."""
        if txn is not None:
            self._txns.put(pdu.event_id, txn)
        log = self._rooms.get(pdu.room_id)
        if log is None:
            log = self._rooms[pdu.room_id] = _RoomLog(self._start, deque())
        if len(log.events) >= self._per_room:
            dropped, _ = log.events.popleft()
            log.floor = dropped
        log.events.append((stream, pdu))
        self.position = max(self.position, stream)
        if pdu.type == M_ROOM_MEMBER:
            self._member_position = stream

    def memberships_moved_since(self, position: int) -> bool:
        """Whether any membership event was persisted after stream `position`."""
        return self._member_position > position or position < self._start

    def transaction_id(self, event_id: EventId, user_id: UserId, device_id: DeviceId) -> str | None:
        """The client transaction ID of a recent event, if `device_id` of `user_id` sent it."""
        txn = self._txns.get(event_id)
        if txn is None or (txn.user_id, txn.device_id) != (user_id, device_id):
            return None
        return txn.txn_id

    def replace(self, pdu: Pdu) -> None:
        """Swap a cached event for a new form of it (its redacted form)."""
        log = self._rooms.get(pdu.room_id)
        if log is None:
            return
        for index, (stream, cached) in enumerate(log.events):
            if cached.event_id == pdu.event_id:
                log.events[index] = (stream, pdu)
                return

    def events_between(
        self, room_id: RoomId, after: int, upto: int, limit: int
    ) -> tuple[list[tuple[int, Pdu]], bool] | None:
        """The newest `limit` events with `after < stream <= upto`, oldest first, and whether
        more were left out; None when the cache cannot answer for this range."""
        log = self._rooms.get(room_id)
        floor = log.floor if log is not None else self._start
        if after < floor:
            return None
        if log is None:
            return [], False
        selected = [(s, p) for s, p in log.events if after < s <= upto]
        if len(selected) > limit:
            return selected[-limit:] if limit else [], True
        return selected, False

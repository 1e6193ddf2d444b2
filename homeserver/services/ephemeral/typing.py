"""Typing notifications (spec: "Typing Notifications"): who is typing in which room.

Typing is ephemeral, so it lives in memory only, with a process-local position that increases
by one whenever a room's set of typing users changes. An entry carries a deadline on the
injected clock; reads ignore entries past their deadline at once, and one sweeper (`run_expiry`,
owned by `app.py`) removes them, advances the position and wakes the room's `/sync` waiters.
After a restart nobody is typing and positions start again from 0; a token from before the
restart (ahead of the current position) is answered with every room known to have changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, JsonDict, MatrixError
from core.event_types import Membership
from core.identifiers import EventId, RoomId, UserId
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, room_key
from homeserver.services.common.params import checked_room_id
from homeserver.services.common.signals import Signal

logger = logging.getLogger(__name__)

MAX_TIMEOUT_MS = 120_000
DEFAULT_TIMEOUT_MS = 30_000
SWEEP_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class TypingChanged:
    """A user started or stopped typing (federation relays local users' changes)."""

    user_id: UserId
    room_id: RoomId
    typing: bool
    timeout_ms: int


class MembershipLookup(Protocol):
    """What typing needs to know about rooms (an `EventStore` provides it)."""

    async def membership(self, user_id: UserId, room_id: RoomId) -> tuple[str, EventId] | None:
        """`(membership, event_id)` of a user in a room, or None."""
        ...


class TypingService:
    """Tracks typing users per room and expires them."""

    def __init__(self, notifier: Notifier, events: MembershipLookup, clock: Clock) -> None:
        self._notifier = notifier
        self._events = events
        self._clock = clock
        # room -> user -> deadline in clock.monotonic() seconds
        self._typing: dict[RoomId, dict[UserId, float]] = {}
        # room -> position of its last change
        self._changed_at: dict[RoomId, int] = {}
        self._position = 0
        # Emitted for every explicit start or stop (not for expiry).
        self.changed: Signal[TypingChanged] = Signal("typing.changed")

    async def set_typing(
        self, user_id: UserId, room_id: RoomId, typing: bool, timeout_ms: int | None
    ) -> None:
        """Start or stop `user_id` typing in `room_id`.

        Args:
            user_id: The typing user; must be joined to the room.
            room_id: The room.
            typing: Whether the user is typing.
            timeout_ms: How long the user counts as typing (default 30 s, capped at 120 s).

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed room ID or negative timeout,
                `M_FORBIDDEN` if the user is not joined to the room.
        """
        room_id = checked_room_id(room_id)
        if timeout_ms is not None and timeout_ms < 0:
            raise MatrixError(M_INVALID_PARAM, "timeout must not be negative")
        membership = await self._events.membership(user_id, room_id)
        if membership is None or membership[0] != Membership.JOIN:
            raise MatrixError(M_FORBIDDEN, "You are not joined to this room")
        now = self._clock.monotonic()
        users = self._typing.setdefault(room_id, {})
        # An entry past its deadline that the sweeper has not removed yet still counts as a
        # change when replaced or removed: its expiry has not been announced.
        previous = users.get(user_id)
        timeout = min(DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms, MAX_TIMEOUT_MS)
        if typing:
            users[user_id] = now + timeout / 1000
            if previous is None or previous <= now:
                self._changed(room_id)
        else:
            users.pop(user_id, None)
            if not users:
                del self._typing[room_id]
            if previous is not None:
                self._changed(room_id)
        await self.changed.emit(TypingChanged(user_id, room_id, typing, timeout))

    def current_position(self) -> int:
        """The latest typing position."""
        return self._position

    def typing_event(self, room_id: RoomId) -> JsonDict:
        """The room's `m.typing` event: everyone typing there now."""
        now = self._clock.monotonic()
        users = self._typing.get(room_id, {})
        typing = sorted(user for user, deadline in users.items() if deadline > now)
        return {"type": "m.typing", "content": {"user_ids": typing}}

    def rooms_changed_since(self, position: int) -> set[RoomId]:
        """Rooms whose typing set changed after `position`.

        A position ahead of the current one comes from before a restart; then every room that
        changed since the restart is returned so the client's view is replaced.
        """
        if position > self._position:
            return set(self._changed_at)
        return {room for room, changed in self._changed_at.items() if changed > position}

    def expire_due(self) -> set[RoomId]:
        """Remove entries past their deadline; returns the rooms that changed."""
        now = self._clock.monotonic()
        changed: set[RoomId] = set()
        for room_id, users in list(self._typing.items()):
            expired = [user for user, deadline in users.items() if deadline <= now]
            for user in expired:
                del users[user]
            if not users:
                del self._typing[room_id]
            if expired:
                changed.add(room_id)
        for room_id in sorted(changed):
            self._changed(room_id)
        return changed

    async def run_expiry(self, interval_seconds: float = SWEEP_INTERVAL_SECONDS) -> None:
        """Expire typing entries every `interval_seconds`, until cancelled."""
        while True:
            await self._clock.sleep(interval_seconds)
            try:
                self.expire_due()
            except Exception:
                logger.exception("typing expiry failed")

    def _changed(self, room_id: RoomId) -> None:
        self._position += 1
        self._changed_at[room_id] = self._position
        self._notifier.notify([room_key(room_id)])

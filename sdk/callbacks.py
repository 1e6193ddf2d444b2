"""Callback registration and dispatch for `AsyncClient`.

Callbacks may be plain functions or coroutine functions; they run one after another in the order
they were added, and a callback that raises is logged and skipped, never allowed to stop the sync
loop. An event filter is an event type (`"m.room.message"`), an event class (`UndecryptableEvent`)
or a tuple of them; None matches every event.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sdk.events import RoomEvent, ToDeviceEvent
from sdk.hooks import EventCallback, InviteCallback, SyncCallback, ToDeviceCallback
from sdk.responses import SyncResponse
from sdk.state import Room

__all__ = ["Callbacks", "EventFilter"]

logger = logging.getLogger(__name__)

_Filter = str | type[RoomEvent]
EventFilter = _Filter | tuple[_Filter, ...] | None
_C = TypeVar("_C")


def matches(event_filter: EventFilter, event: RoomEvent) -> bool:
    """Whether `event` passes `event_filter`."""
    if event_filter is None:
        return True
    options = event_filter if isinstance(event_filter, tuple) else (event_filter,)
    return any(
        event.type == option if isinstance(option, str) else isinstance(event, option)
        for option in options
    )


async def run_callback(callback: Callable[..., Awaitable[None] | None], *args: object) -> None:
    """Call `callback(*args)` (plain or coroutine function); a failure is logged, not raised."""
    await _run(callback, *args)


async def _run(callback: Callable[..., Awaitable[None] | None], *args: object) -> None:
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("callback failed callback=%s", getattr(callback, "__qualname__", callback))


class Callbacks:
    """The registered callbacks of one client."""

    def __init__(self) -> None:
        self._events: list[tuple[EventCallback, EventFilter]] = []
        self._invites: list[InviteCallback] = []
        self._to_device: list[tuple[ToDeviceCallback, tuple[str, ...] | None]] = []
        self._syncs: list[SyncCallback] = []

    def add_event(self, callback: EventCallback, event_filter: EventFilter = None) -> None:
        """Call `callback(room, event)` for each timeline event passing `event_filter`."""
        self._events.append((callback, event_filter))

    def remove_event(self, callback: EventCallback) -> None:
        """Stop calling `callback` for timeline events."""
        self._events = [(c, f) for c, f in self._events if c != callback]

    def add_invite(self, callback: InviteCallback) -> None:
        """Call `callback(room)` for each new invite."""
        self._invites.append(callback)

    def add_to_device(
        self, callback: ToDeviceCallback, event_types: tuple[str, ...] | None = None
    ) -> None:
        """Call `callback(event)` for each to-device event of one of `event_types` (all if None)."""
        self._to_device.append((callback, event_types))

    def add_sync(self, callback: SyncCallback) -> None:
        """Call `callback(response)` after each sync's events were dispatched."""
        self._syncs.append(callback)

    @property
    def wants_events(self) -> bool:
        """Whether any timeline event callback is registered."""
        return bool(self._events)

    async def emit_event(self, room: Room, event: RoomEvent) -> None:
        """Dispatch one timeline event."""
        for callback, event_filter in list(self._events):
            if matches(event_filter, event):
                await _run(callback, room, event)

    async def emit_invite(self, room: Room) -> None:
        """Dispatch one invite."""
        for callback in list(self._invites):
            await _run(callback, room)

    async def emit_to_device(self, event: ToDeviceEvent) -> None:
        """Dispatch one to-device event."""
        for callback, types in list(self._to_device):
            if types is None or event.type in types:
                await _run(callback, event)

    async def emit_sync(self, response: SyncResponse) -> None:
        """Dispatch a whole sync response."""
        for callback in list(self._syncs):
            await _run(callback, response)

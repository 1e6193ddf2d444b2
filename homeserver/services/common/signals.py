"""Typed signals: how one service domain reacts to another without either knowing the other.

A service that has news owns a `Signal[T]` (a public attribute, e.g. `EventService.persisted`)
and emits a frozen payload dataclass on it; the composition root connects handlers to it in
one place (`homeserver.app.wiring.subscriptions`). A service never connects handlers itself,
so every cross-domain reaction can be read in that one function.

Invariants:
- Handlers run one after another, in the order they were connected, awaited by the emitter.
- Each handler runs in its own `try`/`except`: one that raises is logged with its traceback
  and the others still run; `emit` itself never raises because of a handler, so the emitter's
  own work (answering the request, waking `/sync`) always goes on. Cancellation is not caught.
- Handlers must be quick: they run on the emitter's path (a request, or the event writer).
  Slow work belongs in the subscriber's own task.

Consumers of persisted events follow stream positions. The persisted-event signal carries the
event's stream position, but a consumer that must see *every* event (unread counts today;
federation sending, search indexing and retention later) treats the signal only as a wake-up:
its background task reads events from the database after the position it has stored, handles
a batch, and stores the new position in the same transaction as its results. A missed or failed
signal therefore delays the consumer but never loses an event, and after a restart the consumer
catches up from its stored position. `NotificationService` is the model to copy.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

Handler = Callable[[T], Awaitable[None]]


class Signal(Generic[T]):
    """A named, typed list of async handlers, each isolated from the others' failures."""

    __slots__ = ("_handlers", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Handler[T]] = []

    def connect(self, handler: Handler[T]) -> None:
        """Call `handler` with every value emitted from now on (after earlier handlers)."""
        self._handlers.append(handler)

    @property
    def handler_count(self) -> int:
        """How many handlers are connected."""
        return len(self._handlers)

    async def emit(self, value: T) -> None:
        """Call every handler with `value`; a handler that raises is logged and skipped."""
        for handler in tuple(self._handlers):
            try:
                await handler(value)
            except Exception:
                logger.exception(
                    "signal handler failed signal=%s handler=%s",
                    self.name,
                    getattr(handler, "__qualname__", repr(handler)),
                )

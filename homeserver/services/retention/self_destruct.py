"""Self-destructing messages: at its time, a message is redacted and purged.

The job sleeps on the injected clock until the soonest running timer (`event_expiries`, kept
by the tracker) and wakes early when the tracker records or starts a timer, so a message goes
within a second of its time; a time already past goes at once. At expiry a message of one of
our users is redacted on the sender's behalf (the redaction reaches every client and server in
the room), and every expired message, ours or another server's, is purged from this server as
the retention purge does. The timers are in the database: after a restart the job starts from
them (a timer that expired while the server was down fires at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

from core.errors import MatrixError
from core.identifiers import ServerName, server_name_of
from homeserver.clock import Clock
from homeserver.services.retention.purger import Purger
from homeserver.services.rooms.redaction import RedactionService
from homeserver.storage.retention.purge import PurgedEvent
from homeserver.storage.retention.tracking import Timer, TrackingStore

__all__ = ["SelfDestructJob"]

logger = logging.getLogger(__name__)

_BATCH: Final = 100
# While an expired message waits for the indexers to pass it (see `purger`): how often to look
# again. This waits for another task's progress, not for a time, so it is not on the clock.
_DEFERRED_POLL_S: Final = 0.05
_RETRY_S: Final = 1.0


class SelfDestructJob:
    """Fires self-destruct timers (see the module docstring)."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        timers: TrackingStore,
        purger: Purger,
        redaction: RedactionService,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._timers = timers
        self._purger = purger
        self._redaction = redaction
        self._clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A timer was recorded or started: look at the soonest one again."""
        self._wake.set()

    async def run(self) -> None:
        """Fire timers as they come due until cancelled."""
        while True:
            self._wake.clear()
            try:
                if await self.fire_due():
                    await self._sleep(real_s=_DEFERRED_POLL_S)
                else:
                    await self._sleep(until_ms=await self._timers.next_due())
            except Exception:
                logger.exception("self-destruct timers failed")
                await self._sleep(until_ms=self._clock.time_ms() + int(_RETRY_S * 1000))

    async def fire_due(self) -> bool:
        """Redact and purge every message whose time has come; whether some must wait for
        the indexers."""
        fired = 0
        waiting = False
        seen: set[str] = set()
        while timers := [
            t
            for t in await self._timers.due(self._clock.time_ms(), _BATCH)
            if t.event_id not in seen
        ]:
            seen.update(t.event_id for t in timers)
            for timer in timers:
                await self._redact(timer)
            done = await self._purger.purge(
                [PurgedEvent(t.event_id, t.room_id, t.stream_ordering) for t in timers]
            )
            fired += done.purged
            waiting = waiting or bool(done.deferred)
        if fired:
            await self._purger.release_media()
            await self._purger.scrub()
        return waiting

    async def _redact(self, timer: Timer) -> None:
        if server_name_of(timer.sender) != self._server_name:
            return  # the sender's server redacts it; we purge our copy
        try:
            await self._redaction.redact_expired(timer.room_id, timer.event_id)
        except MatrixError as exc:
            logger.info(
                "self-destruct without a redaction event_id=%s errcode=%s",
                timer.event_id,
                exc.errcode,
            )

    async def _sleep(self, *, until_ms: int | None = None, real_s: float | None = None) -> None:
        """Until the clock reaches `until_ms` (or `real_s` seconds of real time pass), or
        `wake` is called; with neither, until `wake`."""
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if until_ms is not None:
            waits.add(asyncio.ensure_future(self._until(until_ms)))
        if real_s is not None:
            waits.add(asyncio.ensure_future(asyncio.sleep(real_s)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in waits:
                if not future.done():
                    future.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await future

    async def _until(self, until_ms: int) -> None:
        # The delay is taken when the sleep starts, so a late start never makes it late.
        await self._clock.sleep(max(0, until_ms - self._clock.time_ms()) / 1000)

"""The outbound transaction sender: one durable queue per destination, drained in order.

PDUs and EDUs are appended to the destination's queue (`OutboundQueue`, durable) and one task
per destination sends them as transactions (`PUT /_matrix/federation/v1/send/{txnId}`) of at
most `MAX_PDUS` PDUs and `MAX_EDUS` EDUs, oldest first.

Invariants:
- A transaction stays under `max_transaction_bytes` (servers cap request bodies).
- At most one transaction is in flight per destination; the next one starts only after the
  previous one was accepted (or given up), so a destination receives our items in queue order.
- A transaction that fails with a retryable error is sent again, unchanged and with the same
  transaction ID (the remote answers a repeated ID from its memory), after a backoff that
  doubles per consecutive failure up to `backoff_max_s`. A refusal that retrying cannot cure
  (a 4xx, a destination refused by policy) drops that transaction's items.
- Items leave the queue only after their transaction was answered, so a restart loses nothing:
  `start` resumes every destination with queued items. The removal runs beside the runner,
  which goes on at once and skips answered items still in the queue.
- Catch-up: while a destination is failing, a queue longer than `max_queued_pdus` is cut down to
  the latest PDU of each room; the destination fetches what it misses with `get_missing_events`.
- Sending ahead (`enqueue_ahead`): items whose destination has nothing queued, nothing in flight
  and no failures are sent while the caller's durable write of them runs, which takes that
  write off the delivery's path. They leave the queue only once both are done; if the process
  dies before the write commits, the caller writes them again on restart (the PDU feed reads on
  from its stored position) and the destination drops what it already has.
- `retry_now` (e.g. the destination just sent us a signed request) ends a destination's backoff:
  a server that restarts after a crash gets what it missed as soon as it talks to us, not
  after the rest of a backoff that may have grown to `backoff_max_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from core.canonical_json import encode_canonical
from core.errors import JsonDict
from core.identifiers import ServerName
from federation.client import path_segment
from federation.errors import FederationError
from federation.ports import EDU, PDU, Clock, NewOutbound, OutboundQueue, QueuedItem

__all__ = ["MAX_EDUS", "MAX_PDUS", "SenderSettings", "TransactionSender", "TransactionTransport"]

logger = logging.getLogger(__name__)

MAX_PDUS: Final = 50
MAX_EDUS: Final = 100
SEND_PATH: Final = "/_matrix/federation/v1/send/"


class TransactionTransport(Protocol):
    """What sends a transaction (the `FederationClient`)."""

    async def put_json(self, destination: str, path: str, content: JsonDict) -> JsonDict:
        """PUT `content` to `path` on `destination`; raises `FederationError` on failure."""
        ...


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """How the sender paces itself.

    Attributes:
        backoff_base_s: Delay after the first failure; doubled per further failure.
        backoff_max_s: Cap of the delay.
        max_queued_pdus: Queue length past which a failing destination gets catch-up.
        max_transaction_bytes: A transaction holds items up to about this many bytes (at
            least one item), well below the request body limits servers apply.
    """

    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    max_queued_pdus: int = 1_000
    max_transaction_bytes: int = 1_000_000


@dataclass
class _Destination:
    """The in-memory state of one destination's queue runner."""

    task: asyncio.Task[None] | None = None
    dirty: bool = False
    failures: int = 0
    retry_now: asyncio.Event | None = None
    batch_ids: tuple[int, ...] = ()
    txn_id: str = ""
    drained: bool = False  # the runner saw the queue empty, and nothing was queued since
    answered: set[int] = field(default_factory=set)  # sent, their removal not done yet
    removals: set[asyncio.Task[None]] = field(default_factory=set)


class TransactionSender:
    """Queues PDUs and EDUs per destination and sends them as transactions."""

    def __init__(
        self,
        *,
        origin: ServerName,
        queue: OutboundQueue,
        transport: TransactionTransport,
        clock: Clock,
        settings: SenderSettings | None = None,
    ) -> None:
        """Build the sender (nothing is sent before `start`).

        Args:
            origin: Our server name (the transactions' `origin`).
            queue: The durable queue.
            transport: Sends one transaction.
            clock: Timestamps, transaction IDs and backoff sleeps.
            settings: Backoff and catch-up limits.
        """
        self._origin = origin
        self._queue = queue
        self._transport = transport
        self._clock = clock
        self._settings = settings or SenderSettings()
        self._destinations: dict[ServerName, _Destination] = {}
        self._started = False
        self._closed = False
        self._txn_prefix = ""
        self._txn_counter = 0
        self._queued_at_start: frozenset[ServerName] = frozenset()

    async def start(self) -> None:
        """Resume sending to every destination with queued items."""
        self._started = True
        self._txn_prefix = str(self._clock.time_ms())
        self._queued_at_start = frozenset(await self._queue.destinations())
        self.wake(self._queued_at_start)

    async def close(self) -> None:
        """Stop every queue runner (queued items stay queued for the next start)."""
        self._closed = True
        tasks = [d.task for d in self._destinations.values() if d.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        removals = [t for d in self._destinations.values() for t in d.removals]
        await asyncio.gather(*removals, return_exceptions=True)

    async def send_pdu(self, destinations: Collection[ServerName], pdu: JsonDict) -> None:
        """Queue `pdu` (as signed) for each of `destinations` and wake their runners."""
        room_id = pdu.get("room_id")
        items = [
            NewOutbound(d, PDU, pdu, room_id if isinstance(room_id, str) else None)
            for d in sorted(destinations)
            if d != self._origin
        ]
        await self.enqueue(items)

    async def send_edu(
        self, destinations: Collection[ServerName], edu_type: str, content: JsonDict
    ) -> None:
        """Queue an EDU for each of `destinations` and wake their runners."""
        edu = {"edu_type": edu_type, "content": content}
        items = [NewOutbound(d, EDU, edu) for d in sorted(destinations) if d != self._origin]
        await self.enqueue(items)

    async def enqueue(self, items: Sequence[NewOutbound]) -> None:
        """Queue `items` durably, then wake their destinations' runners."""
        if not items:
            return
        await self._queue.add(items, self._clock.time_ms())
        self.wake({item.destination for item in items})

    async def enqueue_ahead(
        self, items: Sequence[NewOutbound], write: Callable[[], Awaitable[Sequence[int]]]
    ) -> None:
        """Queue `items` through `write`, the caller's durable write of them (it returns their
        queue ids, in order); a destination that is idle with nothing queued gets its items
        sent while the write runs (if they fit in one transaction). Raises what `write`
        raises."""
        shares: dict[ServerName, list[QueuedItem]] = {}
        for n, item in enumerate(items):
            # Ids below zero never match a stored batch: they get a transaction of their own.
            shares.setdefault(item.destination, []).append(
                QueuedItem(-1 - n, item.kind, item.payload)
            )
        ahead = {d: share for d, share in shares.items() if self._idle(d) and self._fits(share)}
        if not ahead:
            await write()
            self.wake(shares.keys())
            return
        written = asyncio.ensure_future(write())
        for destination, share in sorted(ahead.items()):
            state = self._destinations[destination]
            state.task = asyncio.create_task(
                self._run_ahead(destination, state, share, written),
                name=f"federation-sender-{destination}",
            )
        await asyncio.shield(written)
        self.wake(shares.keys() - ahead.keys())

    def _fits(self, share: list[QueuedItem]) -> bool:
        """Whether `share` makes one transaction within the limits."""
        pdus = sum(1 for item in share if item.kind == PDU)
        if pdus > MAX_PDUS or len(share) - pdus > MAX_EDUS:
            return False
        return len(_fit(share, self._settings.max_transaction_bytes)) == len(share)

    def _idle(self, destination: ServerName) -> bool:
        if not self._started or self._closed or destination == self._origin:
            return False
        state = self._destinations.get(destination)
        if state is None:
            state = _Destination(drained=destination not in self._queued_at_start)
            self._destinations[destination] = state
        idle = state.task is None or state.task.done()
        return idle and state.drained and not state.failures

    def wake(self, destinations: Collection[ServerName]) -> None:
        """Make sure a runner drains each of `destinations` (after the items are queued)."""
        if not self._started or self._closed:
            return
        for destination in destinations:
            if destination == self._origin:
                continue
            state = self._destinations.setdefault(destination, _Destination())
            state.dirty = True
            state.drained = False
            if state.task is None or state.task.done():
                state.task = asyncio.create_task(
                    self._run(destination, state), name=f"federation-sender-{destination}"
                )

    def retry_now(self, destination: ServerName) -> None:
        """End the backoff of `destination` (it has shown it is up)."""
        state = self._destinations.get(destination)
        if state is not None and state.retry_now is not None and not state.retry_now.is_set():
            logger.info(
                "federation destination is back, retrying now destination=%s failures=%d",
                destination,
                state.failures,
            )
            state.retry_now.set()

    def failures(self, destination: ServerName) -> int:
        """Consecutive failed attempts to reach `destination` (0 when healthy)."""
        state = self._destinations.get(destination)
        return state.failures if state is not None else 0

    async def _run(self, destination: ServerName, state: _Destination) -> None:
        while True:
            try:
                state.dirty = False
                if state.failures:
                    await self._catch_up(destination)
                queued = await self._queue.pending(destination, MAX_PDUS, MAX_EDUS)
                fresh = [item for item in queued if item.id not in state.answered]
                if queued and not fresh and state.removals:
                    await asyncio.wait(state.removals)  # then read past them
                    continue
                batch = _fit(fresh, self._settings.max_transaction_bytes)
                if not batch:
                    if state.dirty:
                        continue
                    state.drained = True
                    return
                await self._deliver(destination, state, batch)
                if not state.dirty and not state.failures and _was_all(queued, fresh, batch):
                    state.drained = True  # nothing was queued since: no need to read again
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                # A storage failure: the items stay queued; try again after a pause.
                logger.exception("federation sender failed destination=%s", destination)
                await self._clock.sleep(self._settings.backoff_base_s)

    async def _run_ahead(
        self,
        destination: ServerName,
        state: _Destination,
        ahead: list[QueuedItem],
        written: asyncio.Future[Sequence[int]],
    ) -> None:
        """Send `ahead` (items numbered `-1 - index` in the write) before they are stored,
        then dequeue them once stored; anything else goes through `_run`."""
        state.dirty = False
        state.drained = False
        try:
            done = await self._attempt(destination, state, ahead)
        except Exception:
            logger.exception("federation sender failed destination=%s", destination)
            done = False
        try:
            ids = await asyncio.shield(written)
        except Exception:
            return  # not stored: the caller writes the items again, then wakes us
        if done:
            self._forget(destination, state, [ids[-1 - item.id] for item in ahead])
        if done and not state.dirty:
            state.drained = True
            return
        await self._run(destination, state)

    async def _deliver(
        self, destination: ServerName, state: _Destination, batch: list[QueuedItem]
    ) -> None:
        """Send `batch` once; dequeue it when answered, else back off (it stays queued)."""
        if await self._attempt(destination, state, batch):
            self._forget(destination, state, [item.id for item in batch])

    def _forget(self, destination: ServerName, state: _Destination, ids: list[int]) -> None:
        """Dequeue answered items beside the runner, which skips them meanwhile."""
        state.answered.update(ids)
        task = asyncio.create_task(self._remove(destination, state, ids))
        state.removals.add(task)
        task.add_done_callback(state.removals.discard)

    async def _remove(self, destination: ServerName, state: _Destination, ids: list[int]) -> None:
        try:
            await self._queue.remove(destination, ids)
        except Exception:
            # They stay queued: skipped by this process, sent again after a restart.
            logger.exception("federation sender could not dequeue destination=%s", destination)
            return
        state.answered.difference_update(ids)

    async def _attempt(
        self, destination: ServerName, state: _Destination, batch: list[QueuedItem]
    ) -> bool:
        """Send `batch` once: True when it is done with (answered, or refused for good),
        False after a retryable failure and the backoff that follows it."""
        ids = tuple(item.id for item in batch)
        if ids != state.batch_ids:
            # A batch sent again unchanged keeps its ID; anything else is a new transaction.
            self._txn_counter += 1
            state.batch_ids = ids
            state.txn_id = f"{self._txn_prefix}.{self._txn_counter}"
        try:
            response = await self._transport.put_json(
                destination, SEND_PATH + path_segment(state.txn_id), self._transaction(batch)
            )
        except FederationError as exc:
            if exc.retryable:
                state.failures += 1
                await self._backoff(destination, state, exc)
                return False
            logger.warning(
                "federation transaction refused, dropping it destination=%s txn=%s "
                "items=%d error=%s",
                destination,
                state.txn_id,
                len(batch),
                exc.message,
            )
        else:
            _log_pdu_errors(destination, response)
        state.failures = 0
        state.batch_ids = ()
        return True

    def _transaction(self, batch: list[QueuedItem]) -> JsonDict:
        return {
            "origin": self._origin,
            "origin_server_ts": self._clock.time_ms(),
            "pdus": [item.payload for item in batch if item.kind == PDU],
            "edus": [item.payload for item in batch if item.kind == EDU],
        }

    async def _backoff(
        self, destination: ServerName, state: _Destination, exc: FederationError
    ) -> None:
        settings = self._settings
        delay = min(settings.backoff_base_s * 2 ** (state.failures - 1), settings.backoff_max_s)
        logger.info(
            "federation transaction failed, retrying destination=%s failures=%d delay=%.1f "
            "error=%s",
            destination,
            state.failures,
            delay,
            exc.message,
        )
        state.retry_now = asyncio.Event()
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        woken = asyncio.ensure_future(state.retry_now.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeper, woken):
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
            state.retry_now = None

    async def _catch_up(self, destination: ServerName) -> None:
        if await self._queue.pdu_count(destination) <= self._settings.max_queued_pdus:
            return
        dropped = await self._queue.keep_latest_pdus(destination)
        logger.info(
            "federation catch-up: kept the latest event per room destination=%s dropped=%d",
            destination,
            dropped,
        )


def _was_all(queued: list[QueuedItem], fresh: list[QueuedItem], sent: list[QueuedItem]) -> bool:
    """Whether `sent` was everything queued: all that was read and not answered yet, from a
    read that was not full."""
    pdus = sum(1 for item in queued if item.kind == PDU)
    return len(sent) == len(fresh) and pdus < MAX_PDUS and len(queued) - pdus < MAX_EDUS


def _fit(batch: list[QueuedItem], max_bytes: int) -> list[QueuedItem]:
    """The longest prefix of `batch` (in queue order, at least one item) within `max_bytes`."""
    total = 0
    for index, item in enumerate(batch):
        total += len(encode_canonical(item.payload))
        if total > max_bytes and index > 0:
            return batch[:index]
    return batch


def _log_pdu_errors(destination: ServerName, response: JsonDict) -> None:
    results = response.get("pdus")
    if not isinstance(results, dict):
        return
    for event_id, result in results.items():
        if isinstance(result, dict) and "error" in result:
            logger.info(
                "remote rejected a pdu destination=%s event_id=%s error=%.200s",
                destination,
                event_id,
                result.get("error"),
            )

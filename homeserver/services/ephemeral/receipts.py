"""Receipts and read markers (spec: "Receipts", "Fully read markers").

`m.read` and `m.read.private` receipts are stored on the `receipts` stream and reach `/sync` as
`m.receipt` ephemeral events; a private receipt is only ever shown to its owner. `m.fully_read`
is not a receipt on the wire: it is the room account data `m.fully_read` `{"event_id": …}`,
which clients can set only here. Every marker moves forward only.

A stored receipt is emitted on `stored` (a `ReceiptStored`; push clears unread counts with it)
before the syncs are woken, so the woken sync already sees the new counts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import Membership
from core.identifiers import EventId, RoomId, UserId, parse_event_id
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, room_key, user_key
from homeserver.services.common.params import checked, checked_event_id
from homeserver.services.common.signals import Signal
from homeserver.storage.accounts.account_data import AccountDataStore
from homeserver.storage.ephemeral.receipts import NewReceipt, Receipt, ReceiptStore
from homeserver.storage.rooms.events import EventStore, StoredEvent

READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
RECEIPT_TYPES = frozenset({READ, READ_PRIVATE, FULLY_READ})
MAIN_THREAD = "main"


@dataclass(frozen=True, slots=True)
class ReceiptStored:
    """A receipt moved forward and was stored at `stream_position` of the receipts stream."""

    stream_position: int
    receipt: NewReceipt


class ReceiptService:
    """Posts receipts and read markers and renders them for `/sync`."""

    def __init__(
        self,
        store: ReceiptStore,
        events: EventStore,
        account_data: AccountDataStore,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self._store = store
        self._events = events
        self._account_data = account_data
        self._notifier = notifier
        self._clock = clock
        # Emitted after a receipt is stored and before syncs are woken.
        self.stored: Signal[ReceiptStored] = Signal("receipts.stored")

    async def post_receipt(
        self,
        user_id: UserId,
        room_id: RoomId,
        receipt_type: str,
        event_id: str,
        thread_id: str | None,
    ) -> None:
        """Move the user's `receipt_type` marker in `room_id` to `event_id`.

        Args:
            user_id: The requester; must be joined to the room.
            room_id: The room.
            receipt_type: `m.read`, `m.read.private` or `m.fully_read`.
            event_id: An event of the room, as the client named it: it is checked only once
                the user is known to be joined, so a non-member learns nothing from it.
            thread_id: `main` or a thread root's event ID; None for an unthreaded receipt.

        Raises:
            MatrixError: `M_INVALID_PARAM` for an unknown receipt type, a malformed ID or a
                threaded `m.fully_read`; `M_FORBIDDEN` if not joined; `M_NOT_FOUND` if the
                event is not in the room.
        """
        if receipt_type not in RECEIPT_TYPES:
            raise MatrixError(M_INVALID_PARAM, f"Receipt type must be one of {_type_list()}")
        _check_thread(receipt_type, thread_id)
        await self._require_joined(user_id, room_id)
        event = await self._event_in_room(room_id, event_id)
        await self._apply(user_id, room_id, receipt_type, event, thread_id)

    async def set_read_markers(
        self,
        user_id: UserId,
        room_id: RoomId,
        fully_read: str | None,
        read: str | None,
        read_private: str | None,
    ) -> None:
        """Set any of the fully-read marker and the public and private read receipts.

        Raises:
            MatrixError: as `post_receipt`.
        """
        markers = ((FULLY_READ, fully_read), (READ, read), (READ_PRIVATE, read_private))
        wanted = [(kind, event_id) for kind, event_id in markers if event_id is not None]
        if not wanted:
            return
        await self._require_joined(user_id, room_id)
        # Check every event before changing anything, so a bad one changes nothing.
        events = [(kind, await self._event_in_room(room_id, e)) for kind, e in wanted]
        for receipt_type, event in events:
            await self._apply(user_id, room_id, receipt_type, event, None)

    async def current_position(self) -> int:
        """The latest receipt stream position."""
        return await self._store.current_position()

    async def receipt_events(
        self, room_ids: Collection[RoomId], since: int, until: int, viewer: UserId
    ) -> dict[RoomId, JsonDict]:
        """`m.receipt` events per room for receipts changed in `(since, until]`.

        With `since == 0` (an initial sync) they hold each user's latest receipts. Private
        receipts appear only when they are the viewer's own; rooms with nothing to show are
        absent.
        """
        receipts = await self._store.changed_between(room_ids, since, until)
        contents: dict[RoomId, JsonDict] = {}
        for receipt in receipts:
            if receipt.receipt_type == READ_PRIVATE and receipt.user_id != viewer:
                continue
            content = contents.setdefault(receipt.room_id, {})
            by_type = content.setdefault(receipt.event_id, {})
            by_type.setdefault(receipt.receipt_type, {})[receipt.user_id] = _receipt_data(receipt)
        return {room: {"type": "m.receipt", "content": c} for room, c in contents.items()}

    async def _apply(
        self,
        user_id: UserId,
        room_id: RoomId,
        receipt_type: str,
        event: StoredEvent,
        thread_id: str | None,
    ) -> None:
        if receipt_type == FULLY_READ:
            await self._set_fully_read(user_id, room_id, event)
            return
        receipt = NewReceipt(
            room_id=room_id,
            receipt_type=receipt_type,
            user_id=user_id,
            thread_id=thread_id,
            event_id=event.event_id,
            event_stream_ordering=event.stream_ordering,
            ts=self._clock.time_ms(),
        )
        position = await self._store.put(receipt)
        if position is not None:
            await self.stored.emit(ReceiptStored(position, receipt))
            # A private receipt concerns only its owner's syncs.
            key = user_key(user_id) if receipt_type == READ_PRIVATE else room_key(room_id)
            self._notifier.notify([key])

    async def _set_fully_read(self, user_id: UserId, room_id: RoomId, event: StoredEvent) -> None:
        current = await self._account_data.get(user_id, room_id, FULLY_READ)
        current_id = current.get("event_id") if current is not None else None
        if isinstance(current_id, str):
            if current_id == event.event_id:
                return
            # Only looked up: a marker naming no stored event is simply not found.
            previous_id = EventId(current_id)
            previous = (await self._events.get_events([previous_id])).get(previous_id)
            if previous is not None and previous.stream_ordering > event.stream_ordering:
                return
        await self._account_data.put(user_id, room_id, FULLY_READ, {"event_id": event.event_id})
        self._notifier.notify([user_key(user_id)])

    async def _require_joined(self, user_id: UserId, room_id: RoomId) -> None:
        membership = await self._events.membership(user_id, room_id)
        if membership is None or membership[0] != Membership.JOIN:
            raise MatrixError(M_FORBIDDEN, "You are not joined to this room")

    async def _event_in_room(self, room_id: RoomId, event_id: str) -> StoredEvent:
        checked_id = checked_event_id(event_id)
        event = (await self._events.get_events([checked_id])).get(checked_id)
        if event is None or event.room_id != room_id:
            raise MatrixError(M_NOT_FOUND, "Event not found in this room")
        return event


def _receipt_data(receipt: Receipt) -> JsonDict:
    data: JsonDict = {"ts": receipt.ts}
    if receipt.thread_id is not None:
        data["thread_id"] = receipt.thread_id
    return data


def _check_thread(receipt_type: str, thread_id: str | None) -> None:
    if thread_id is None:
        return
    if receipt_type == FULLY_READ:
        raise MatrixError(M_INVALID_PARAM, "thread_id is not compatible with m.fully_read")
    if thread_id == MAIN_THREAD:
        return
    checked(parse_event_id, thread_id, "thread_id (neither 'main' nor an event ID)")


def _type_list() -> str:
    return ", ".join(sorted(RECEIPT_TYPES))

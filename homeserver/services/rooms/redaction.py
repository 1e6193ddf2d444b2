"""Redacting events (spec: `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`, "Redactions").

A redaction is an `m.room.redaction` event made by `EventService` like any other (so the auth
rules apply the send level of `m.room.redaction`); before sending, `core.power_levels.can_redact`
decides whether the requester may redact that sender's event (their own, or anyone's with the
`redact` level; server admins may redact local users' events). Once the redaction is persisted
the target's stored JSON is replaced by what the room version's redaction algorithm keeps
(`core.redaction.redact`), so the content is gone from storage, and the cached PDU is swapped
for the pruned one. Readers show the pruned event with `unsigned.redacted_because`. A
redaction from another server is applied the same way once the inbound pipeline has accepted
it (`apply_remote`), if its sender may redact the target.

The target keeps its first redaction: redacting it again sends another redaction event but
changes nothing stored. Transaction IDs are scoped per device *and* endpoint (spec:
"Transaction identifiers"), so they are stored with a prefix no `/send` ID can collide with.
The two writes (the redaction event, then the pruning) are separate transactions; should the
process die between them, the content is pruned by the next redaction of that event.

After pruning, `pruned` is emitted with the content as it was, for the indexes that must take
out what they derived from it (search) and can no longer read it from storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.errors import M_FORBIDDEN, M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import M_ROOM_CREATE, M_ROOM_POWER_LEVELS, M_ROOM_REDACTION, Membership
from core.events import Pdu
from core.identifiers import DeviceId, EventId, RoomId, UserId, server_name_of
from core.power_levels import can_apply_redaction, can_redact
from core.redaction import redact
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.common.requester import Requester
from homeserver.services.common.signals import Signal
from homeserver.services.rooms.event_serializer import EventSerializer
from homeserver.services.rooms.events import EventService, NewEvent
from homeserver.services.rooms.visibility import Placed, VisibilityService
from homeserver.storage.rooms.events import EventStore, TxnKey
from homeserver.storage.rooms.reads import RoomEvent, RoomReadStore

# A control character cannot come from a `/send` path segment that a client would pick, and
# unlike NUL it is storable in a PostgreSQL TEXT column.
_TXN_PREFIX: Final = "\x1fredact\x1f"


@dataclass(frozen=True, slots=True)
class EventPruned:
    """A redacted event's stored JSON was replaced by its pruned form; `original` is the JSON
    it had before (in memory only, for handlers to undo what they derived from it)."""

    event_id: EventId
    room_id: RoomId
    original: JsonDict


class RedactionService:
    """Sends redactions and applies them to stored events."""

    def __init__(
        self,
        *,
        events: EventService,
        event_store: EventStore,
        store: RoomReadStore,
        visibility: VisibilityService,
        serializer: EventSerializer,
        limiter: RateLimiter,
        message_limit: Limit,
    ) -> None:
        self._events = events
        self._event_store = event_store
        self._store = store
        self._visibility = visibility
        self._serializer = serializer
        self._limiter = limiter
        self._limit = message_limit
        self.pruned: Signal[EventPruned] = Signal("redaction.pruned")

    async def redact(
        self,
        requester: Requester,
        room_id: RoomId,
        event_id: EventId,
        txn_id: str,
        reason: str | None,
    ) -> EventId:
        """Redact an event; returns the redaction's event ID (the first one for a repeated
        transaction ID).

        Raises:
            MatrixError: `M_FORBIDDEN` if the requester is not joined or may not redact the
                event; `M_NOT_FOUND` if it is not in the room or hidden from the requester.
        """
        txn = TxnKey(requester.user_id, requester.device_id, _TXN_PREFIX + txn_id)
        existing = await self._event_store.event_for_txn(txn)
        if existing is not None:
            return existing
        record = await self._store.membership(requester.user_id, room_id)
        if record is None or record.membership != Membership.JOIN:
            raise MatrixError(M_FORBIDDEN, "You are not in this room")
        target = (await self._store.events_by_id([event_id])).get(event_id)
        if target is None or target.room_id != room_id:
            raise MatrixError(M_NOT_FOUND, "Event not found")
        pdu = await self._serializer.pdu(target)
        placed = Placed(pdu, target.stream_ordering, target.state_group)
        if not await self._visibility.is_visible(requester.user_id, placed):
            raise MatrixError(M_NOT_FOUND, "Event not found")
        if not await self._may_redact(requester, pdu):
            raise MatrixError(M_FORBIDDEN, "You may not redact this event")
        self._limiter.check("message", requester.user_id, self._limit)
        return await self._send_redaction(requester.user_id, target, pdu, reason, txn)

    async def redact_expired(self, room_id: RoomId, event_id: EventId) -> EventId | None:
        """Redact a local user's message whose self-destruct time has come, on the sender's
        behalf (as if they had: every client and server sees the redaction). No rate limit
        applies; the transaction ID is derived from the event, so a repeat sends nothing new.

        Returns:
            The redaction's event ID, or None when there is nothing to send: the event is not
            in the room, already redacted, or its sender is no longer joined (the caller purges
            it all the same).
        """
        target = (await self._store.events_by_id([event_id])).get(event_id)
        if target is None or target.room_id != room_id or target.redacted_by is not None:
            return None
        pdu = await self._serializer.pdu(target)
        record = await self._store.membership(pdu.sender, room_id)
        if record is None or record.membership != Membership.JOIN:
            return None
        txn = TxnKey(pdu.sender, DeviceId(""), _TXN_PREFIX + "self-destruct:" + event_id)
        return await self._send_redaction(pdu.sender, target, pdu, "self-destruct", txn)

    async def _send_redaction(
        self, sender: UserId, target: RoomEvent, pdu: Pdu, reason: str | None, txn: TxnKey
    ) -> EventId:
        """Send `sender`'s redaction of `target` (`pdu` is its event) and, for a new one,
        prune the target; returns the redaction's event ID."""
        content: JsonDict = {"reason": reason} if reason else {}
        redacts: EventId | None = pdu.event_id
        if pdu.room_version.redacts_in_content:
            content["redacts"], redacts = pdu.event_id, None
        new = NewEvent(target.room_id, sender, M_ROOM_REDACTION, content, redacts=redacts)
        sent = await self._events.send(new, txn=txn)
        if sent.pdu is not None:
            await self._prune(target, pdu, sent.event_id)
        return sent.event_id

    async def _may_redact(self, requester: Requester, pdu: Pdu) -> bool:
        if requester.is_admin and server_name_of(pdu.sender) == server_name_of(requester.user_id):
            return True
        return can_redact(requester.user_id, pdu.sender, await self._power_state(pdu.room_id))

    async def _power_state(self, room_id: RoomId) -> dict[tuple[str, str], Pdu]:
        """The room's current create and power levels events, which decide who may redact."""
        state = await self._events.current_state(room_id)
        ids = [
            state[key] for key in ((M_ROOM_POWER_LEVELS, ""), (M_ROOM_CREATE, "")) if key in state
        ]
        return {(p.type, p.state_key or ""): p for p in await self._events.get_pdus(ids)}

    async def _prune(self, target: RoomEvent, pdu: Pdu, redaction_id: EventId) -> None:
        """Apply the redaction algorithm to the stored target (its first redaction only)."""
        current = (await self._store.events_by_id([target.event_id])).get(target.event_id)
        if current is None or current.redacted_by is not None:
            return
        pruned = redact(current.raw, pdu.room_version)
        await self._event_store.mark_redacted(target.event_id, redaction_id, pruned)
        self._events.replace_cached(Pdu(pruned, target.event_id, pdu.room_version))
        await self.pruned.emit(EventPruned(target.event_id, target.room_id, current.raw))

    async def apply_remote(self, redaction: Pdu) -> None:
        """Apply an accepted redaction from another server to its target, if we hold it.

        Spec ("Handling redactions", room versions 3 and up): only when the redaction's sender
        is of the target sender's server or has the redact level (at the room's current power
        levels); otherwise the redaction stays in the room and the target is untouched.
        """
        target_id = redaction.redacts
        if target_id is None:
            return
        target = (await self._store.events_by_id([target_id])).get(target_id)
        if target is None or target.room_id != redaction.room_id:
            return
        pdu = await self._serializer.pdu(target)
        power = await self._power_state(pdu.room_id)
        if can_apply_redaction(redaction.sender, pdu.sender, power):
            await self._prune(target, pdu, redaction.event_id)

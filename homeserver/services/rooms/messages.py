"""Client sends: message events (idempotent per device and transaction ID) and state events.

Validation here is what the auth rules do not cover: well-formed IDs, event types the client
may not send through these endpoints, and the message rate limit.
"""

from __future__ import annotations

from core.errors import M_BAD_JSON, M_FORBIDDEN, M_INVALID_PARAM, JsonDict, MatrixError
from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER, M_ROOM_REDACTION, Membership
from core.identifiers import EventId, RoomId
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.events import EventService, NewEvent
from homeserver.storage.rooms.events import TxnKey

MAX_TYPE_BYTES = 255


class MessageService:
    """Turns client sends into events."""

    def __init__(self, events: EventService, limiter: RateLimiter, message_limit: Limit) -> None:
        self._events = events
        self._limiter = limiter
        self._limit = message_limit

    async def send_message(
        self,
        requester: Requester,
        room_id: RoomId,
        event_type: str,
        content: JsonDict,
        txn_id: str,
    ) -> EventId:
        """Send a message event; a repeated transaction ID returns the first event's ID."""
        _check_type(event_type)
        if event_type == M_ROOM_REDACTION:
            raise MatrixError(M_BAD_JSON, "Use the /redact endpoint to redact events")
        txn = TxnKey(requester.user_id, requester.device_id, txn_id)
        self._limiter.check("message", requester.user_id, self._limit)
        sent = await self._events.send(
            NewEvent(room_id, requester.user_id, event_type, content), txn=txn
        )
        return sent.event_id

    async def send_state(
        self,
        requester: Requester,
        room_id: RoomId,
        event_type: str,
        state_key: str,
        content: JsonDict,
    ) -> EventId:
        """Send a state event."""
        _check_type(event_type)
        if event_type == M_ROOM_MEMBER:
            await self._check_own_join_update(requester, room_id, state_key, content)
        if event_type == M_ROOM_CREATE:
            raise MatrixError(M_FORBIDDEN, "A room has exactly one create event")
        self._limiter.check("message", requester.user_id, self._limit)
        sent = await self._events.send(
            NewEvent(room_id, requester.user_id, event_type, content, state_key)
        )
        return sent.event_id

    async def _check_own_join_update(
        self, requester: Requester, room_id: RoomId, state_key: str, content: JsonDict
    ) -> None:
        """A joined member may restate their own join with other profile fields (a per-room
        display name or avatar, Element's `/myroomnick`): the auth rules allow join to join.
        Membership changes go through the membership endpoints, which apply their own checks.
        """
        if state_key == requester.user_id and content.get("membership") == Membership.JOIN:
            state = await self._events.current_state(room_id)
            current = state.get((M_ROOM_MEMBER, state_key))
            pdus = await self._events.get_pdus([current]) if current is not None else []
            if pdus and pdus[0].membership == Membership.JOIN:
                return
        raise MatrixError(M_FORBIDDEN, "Use the membership endpoints to change membership")


def _check_type(event_type: str) -> None:
    if not event_type or len(event_type.encode()) > MAX_TYPE_BYTES:
        raise MatrixError(M_INVALID_PARAM, "Invalid event type")

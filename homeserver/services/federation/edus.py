"""EDUs from other servers (Server-Server API "EDUs"): typing, receipts, presence, to-device
messages, device list and signing key updates.

Every EDU is untrusted input: it is handled only for users of the server that sent it (the
authenticated origin), typing and receipts only in rooms where those users are joined here
and whose server ACL allows the origin, presence and device lists only for users sharing a
room with us. An EDU that breaks a rule or is malformed is logged and dropped; `handle` never
raises, so one bad EDU never fails its transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeGuard

from core.errors import JsonDict, MatrixError
from core.event_types import Membership
from core.identifiers import (
    RoomId,
    ServerName,
    UserId,
    parse_room_id,
    parse_user_id,
    server_name_of,
)
from homeserver.clock import Clock
from homeserver.services.ephemeral.presence import STATES, PresenceService
from homeserver.services.ephemeral.receipts import READ, ReceiptService
from homeserver.services.ephemeral.to_device import ToDeviceService
from homeserver.services.ephemeral.typing import DEFAULT_TIMEOUT_MS, TypingService
from homeserver.services.federation.server_acls import ServerAcls
from homeserver.storage.ephemeral.presence import PresenceRecord
from homeserver.storage.rooms.events import EventStore

__all__ = ["EduHandler", "RemoteDeviceUpdates"]

logger = logging.getLogger(__name__)


class EduError(Exception):
    """An EDU broke a rule; it is dropped."""


class RemoteDeviceUpdates(Protocol):
    """Keeps remote users' device lists (the e2ee domain's `RemoteDeviceLists`)."""

    async def on_device_list_update(
        self, origin: ServerName, user_id: UserId, content: JsonDict
    ) -> None:
        """Apply an `m.device_list_update` of a user of `origin`."""
        ...

    async def on_signing_key_update(
        self, origin: ServerName, user_id: UserId, content: JsonDict
    ) -> None:
        """Apply an `m.signing_key_update` of a user of `origin`."""
        ...


class EduHandler:
    """Applies the EDUs of inbound transactions."""

    def __init__(
        self,
        *,
        typing: TypingService,
        receipts: ReceiptService,
        presence: PresenceService,
        to_device: ToDeviceService,
        events: EventStore,
        devices: RemoteDeviceUpdates,
        clock: Clock,
        acls: ServerAcls,
    ) -> None:
        self._typing = typing
        self._acls = acls
        self._devices = devices
        self._receipts = receipts
        self._presence = presence
        self._to_device = to_device
        self._events = events
        self._clock = clock
        self._handlers: dict[str, Callable[[ServerName, JsonDict], Awaitable[None]]] = {
            "m.typing": self._on_typing,
            "m.receipt": self._on_receipt,
            "m.presence": self._on_presence,
            "m.direct_to_device": self._on_to_device,
            "m.device_list_update": self._on_device_list_update,
            "m.signing_key_update": self._on_signing_key_update,
        }

    async def handle(self, origin: ServerName, edu: object) -> None:
        """Apply one EDU from `origin`; anything wrong with it is logged, never raised."""
        if not isinstance(edu, dict):
            return
        edu_type, content = edu.get("edu_type"), edu.get("content")
        handler = self._handlers.get(edu_type) if isinstance(edu_type, str) else None
        if handler is None or not isinstance(content, dict):
            return
        try:
            await handler(origin, content)
        except (EduError, MatrixError, ValueError, TypeError, KeyError) as exc:
            logger.info("dropped an edu origin=%s type=%s reason=%s", origin, edu_type, exc)
        except Exception:
            logger.exception("edu handling failed origin=%s type=%s", origin, edu_type)

    async def _on_typing(self, origin: ServerName, content: JsonDict) -> None:
        user_id = _user_of(origin, content.get("user_id"))
        room_id = _room(content.get("room_id"))
        typing = content.get("typing")
        if not isinstance(typing, bool):
            raise EduError("typing must be a boolean")
        if not await self._acls.allows(origin, room_id):
            raise EduError("the room's server ACL denies the origin")
        await self._typing.set_typing(user_id, room_id, typing, DEFAULT_TIMEOUT_MS)

    async def _on_receipt(self, origin: ServerName, content: JsonDict) -> None:
        for room, by_type in content.items():
            room_id = _room(room)
            if not isinstance(by_type, dict) or not isinstance(by_type.get(READ), dict):
                continue  # only public read receipts cross servers
            if not await self._acls.allows(origin, room_id):
                continue  # every receipt of a room whose ACL denies the origin is ignored
            for user, receipt in by_type[READ].items():
                try:
                    await self._one_receipt(origin, room_id, user, receipt)
                except (EduError, MatrixError, ValueError) as exc:
                    logger.info("dropped a receipt origin=%s reason=%s", origin, exc)

    async def _one_receipt(
        self, origin: ServerName, room_id: RoomId, user: object, receipt: object
    ) -> None:
        user_id = _user_of(origin, user)
        if not isinstance(receipt, dict) or not isinstance(receipt.get("event_ids"), list):
            raise EduError("receipt without event_ids")
        data = receipt.get("data")
        thread = data.get("thread_id") if isinstance(data, dict) else None
        for event_id in receipt["event_ids"][:10]:
            if not isinstance(event_id, str):
                raise EduError("event ID must be a string")
            await self._receipts.post_receipt(
                user_id, room_id, READ, event_id, thread if isinstance(thread, str) else None
            )

    async def _on_presence(self, origin: ServerName, content: JsonDict) -> None:
        updates = content.get("push")
        if not isinstance(updates, list):
            raise EduError("push must be a list")
        now = self._clock.time_ms()
        for update in updates[:1000]:
            if not isinstance(update, dict):
                continue
            try:
                user_id = _user_of(origin, update.get("user_id"))
            except EduError:
                continue
            state = update.get("presence")
            if state not in STATES or not await self._shares_room(user_id):
                continue
            ago = update.get("last_active_ago")
            status = update.get("status_msg")
            record = PresenceRecord(
                user_id=user_id,
                state=state,
                status_msg=status if isinstance(status, str) else None,
                last_active_ts=now - ago if _is_int(ago) and 0 <= ago <= now else 0,
                last_sync_ts=now,
                currently_active=update.get("currently_active") is True,
            )
            await self._presence.set_remote_presence(record)

    async def _on_to_device(self, origin: ServerName, content: JsonDict) -> None:
        sender = _user_of(origin, content.get("sender"))
        event_type, message_id = content.get("type"), content.get("message_id")
        if not isinstance(event_type, str) or not isinstance(message_id, str) or not message_id:
            raise EduError("type and message_id must be strings")
        await self._to_device.deliver_remote(
            sender, event_type, message_id, content.get("messages")
        )

    async def _on_device_list_update(self, origin: ServerName, content: JsonDict) -> None:
        user_id = _user_of(origin, content.get("user_id"))
        await self._devices.on_device_list_update(origin, user_id, content)

    async def _on_signing_key_update(self, origin: ServerName, content: JsonDict) -> None:
        user_id = _user_of(origin, content.get("user_id"))
        await self._devices.on_signing_key_update(origin, user_id, content)

    async def _shares_room(self, user_id: UserId) -> bool:
        return bool(await self._events.rooms_for_user(user_id, [Membership.JOIN]))


def _user_of(origin: ServerName, value: object) -> UserId:
    """A user ID of `origin` (EduError for anything else)."""
    if not isinstance(value, str):
        raise EduError("user ID must be a string")
    try:
        user_id = parse_user_id(value)
    except ValueError:
        raise EduError("malformed user ID") from None
    if server_name_of(user_id) != origin:
        raise EduError("user of another server")
    return user_id


def _room(value: object) -> RoomId:
    if not isinstance(value, str):
        raise EduError("room ID must be a string")
    try:
        return parse_room_id(value)
    except ValueError:
        raise EduError("malformed room ID") from None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)

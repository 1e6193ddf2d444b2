"""Room encryption for the Olm machine: sharing Megolm keys, encrypting, decrypting.

`share_room_key` is called before every encrypted send with the room's current members: it
rotates the outbound session if it expired or if any device it was shared with is no longer a
recipient (a member left, a device was removed or blocked), then returns `m.room_key` messages,
Olm-encrypted, for every recipient device that does not hold the key yet. `encrypt_room_event`
then encrypts with the shared session. `decrypt_room_event` decrypts with replay protection and
reports who sent it and how far that is trusted.

Invariants: a room key is only accepted from an Olm channel (`receive_room_key`), and its
session ID must be the one the key actually yields; a decrypted event whose session was received
directly from a user is refused unless that user is the event's sender.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from core.errors import JsonDict
from core.event_types import M_ROOM_ENCRYPTED
from sdk.crypto._vodozemac import GroupSession
from sdk.crypto.errors import CryptoError, DecryptionError
from sdk.crypto.machine.base import MachineBase, ToDeviceRequest
from sdk.crypto.protocol.account import MEGOLM_ALGORITHM
from sdk.crypto.protocol.devices import Device, DeviceTrust
from sdk.crypto.protocol.megolm import (
    DEFAULT_ROTATION_MS,
    DEFAULT_ROTATION_MSGS,
    InboundGroup,
    OutboundGroup,
)
from sdk.crypto.protocol.olm import OlmPayload

__all__ = ["DecryptedRoomEvent", "RoomSettings", "RoomsMixin"]

logger = logging.getLogger(__name__)

_MESSAGES_PER_REQUEST: Final = 250


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """What the room's state says about its encryption.

    Attributes:
        rotation_ms: `rotation_period_ms` of `m.room.encryption` (a week by default).
        rotation_msgs: `rotation_period_msgs` (100 by default).
        shared_history: Whether history visibility is `shared` or `world_readable`.
    """

    rotation_ms: int = DEFAULT_ROTATION_MS
    rotation_msgs: int = DEFAULT_ROTATION_MSGS
    shared_history: bool = False

    @classmethod
    def from_state(
        cls, encryption: JsonDict | None, history_visibility: str | None
    ) -> RoomSettings:
        """Read the settings from `m.room.encryption` content and the history visibility."""
        content = encryption or {}
        ms, msgs = content.get("rotation_period_ms"), content.get("rotation_period_msgs")
        return cls(
            ms
            if isinstance(ms, int) and not isinstance(ms, bool) and ms > 0
            else DEFAULT_ROTATION_MS,
            msgs
            if isinstance(msgs, int) and not isinstance(msgs, bool) and msgs > 0
            else DEFAULT_ROTATION_MSGS,
            history_visibility in ("shared", "world_readable"),
        )


@dataclass(frozen=True, slots=True)
class DecryptedRoomEvent:
    """A decrypted room event and what is known about its sender.

    Attributes:
        event_type: The cleartext type.
        content: The cleartext content.
        session_id: The Megolm session.
        message_index: The ratchet index of this message.
        sender_key: Curve25519 key of the device that created the session (as claimed).
        sender_device: That device, if the sender has a device with those keys.
        trust: The device's trust level, or None if the device is unknown.
        authenticated: Whether the key came straight from the sender over Olm (not from a
            backup, a forward or a history bundle).
        source: Where the key came from (`room_key`, `own`, `forwarded`, `backup`, `bundle`).
        forwarder: Who forwarded or shared the key, for `forwarded` and `bundle`.
    """

    event_type: str
    content: JsonDict = field(repr=False)
    session_id: str
    message_index: int
    sender_key: str
    sender_device: Device | None
    trust: DeviceTrust | None
    authenticated: bool
    source: str
    forwarder: str | None = None

    @property
    def verified(self) -> bool:
        """Authenticated and sent by a verified device."""
        return self.authenticated and self.trust is DeviceTrust.VERIFIED

    def info(self) -> dict[str, Any]:
        """A plain summary for `RoomEvent.decryption_info`."""
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "session_id": self.session_id,
            "message_index": self.message_index,
            "sender_key": self.sender_key,
            "device_id": self.sender_device.device_id if self.sender_device else None,
            "trust": self.trust.value if self.trust else None,
            "authenticated": self.authenticated,
            "verified": self.verified,
            "source": self.source,
            "forwarder": self.forwarder,
        }


class RoomsMixin(MachineBase):
    """Megolm sessions: sharing, rotation, encryption and decryption."""

    def recipients(
        self, users: Iterable[str], *, only_verified: bool = False
    ) -> dict[tuple[str, str], Device]:
        """Devices that must hold the room key: every known device of `users` except this one
        and blocked ones (and, with `only_verified`, unverified ones)."""
        found: dict[tuple[str, str], Device] = {}
        for user_id in users:
            for device in self.devices_of(user_id):
                trust = self.trust.trust(device)
                if trust is DeviceTrust.BLOCKED or (
                    only_verified and trust is not DeviceTrust.VERIFIED
                ):
                    continue
                found[(device.user_id, device.device_id)] = device
        return found

    def discard_group_session(self, room_id: str) -> bool:
        """Forget the room's outbound session so the next send creates and shares a new one."""
        if self.outbound.pop(room_id, None) is None:
            return False
        self.mark("outbound", room_id)
        return True

    def on_member_left(self, room_id: str, user_id: str) -> None:
        """A member left or was removed: they may hold the current key, so rotate."""
        if user_id != self.user_id and self.discard_group_session(room_id):
            logger.debug("rotating megolm session after a departure room_id=%s", room_id)

    def _must_rotate(
        self,
        group: OutboundGroup,
        recipients: dict[tuple[str, str], Device],
        settings: RoomSettings,
    ) -> bool:
        if group.expired(self.clock()) or group.shared_history != settings.shared_history:
            return True
        return any(
            key not in recipients or recipients[key].ed25519 != ed25519
            for key, ed25519 in group.shared_with.items()
        )

    def _new_group(self, room_id: str, settings: RoomSettings) -> OutboundGroup:
        group = OutboundGroup(
            room_id,
            GroupSession(),
            self.clock(),
            settings.rotation_ms,
            settings.rotation_msgs,
            shared_history=settings.shared_history,
        )
        own = InboundGroup(
            room_id,
            InboundGroup.session_from_key(group.session.session_key.to_base64(), exported=False),
            self.account.curve25519,
            self.account.ed25519,
            owner=self.user_id,
            source="own",
            shared_history=settings.shared_history,
        )
        self.inbound.add(own)
        self.outbound[room_id] = group
        return group

    def share_room_key(
        self,
        room_id: str,
        users: Iterable[str],
        settings: RoomSettings,
        *,
        only_verified: bool = False,
    ) -> list[ToDeviceRequest]:
        """Rotate if needed and return the `m.room_key` messages for devices lacking the key.

        Devices without an Olm session (claim their one-time keys first) are left out and
        will be tried again on the next call.
        """
        recipients = self.recipients(users, only_verified=only_verified)
        group = self.outbound.get(room_id)
        if group is not None and self._must_rotate(group, recipients, settings):
            self.discard_group_session(room_id)
            group = None
        if group is None:
            group = self._new_group(room_id, settings)
        content = group.room_key_content()
        messages: list[tuple[Device, JsonDict]] = []
        for key, device in sorted(recipients.items()):
            if key in group.shared_with:
                continue
            if not self.olm.has_session(device.curve25519):
                logger.info("no olm session, room key not shared user_id=%s device_id=%s", *key)
                continue
            messages.append((device, self.olm.encrypt(device, "m.room_key", content)))
            group.shared_with[key] = device.ed25519
        self.mark("outbound", room_id)
        return batch_to_device(M_ROOM_ENCRYPTED, messages)

    def encrypt_room_event(self, room_id: str, event_type: str, content: JsonDict) -> JsonDict:
        """Encrypt with the room's shared outbound session (call `share_room_key` first).

        Raises:
            CryptoError: The room has no outbound session.
        """
        group = self.outbound.get(room_id)
        if group is None:
            raise CryptoError(f"no outbound session for {room_id}: share a room key first")
        encrypted = group.encrypt(self.account.curve25519, self.device_id, event_type, content)
        self.mark("outbound", room_id)
        return encrypted

    def receive_room_key(self, payload: OlmPayload) -> bool:
        """Store an `m.room_key` received over Olm. Returns whether it was new or better."""
        content = payload.content
        room_id, session_id, key = (
            content.get("room_id"),
            content.get("session_id"),
            content.get("session_key"),
        )
        if content.get("algorithm") != MEGOLM_ALGORITHM or not all(
            isinstance(v, str) for v in (room_id, session_id, key)
        ):
            logger.warning("malformed m.room_key from user_id=%s", payload.sender)
            return False
        session = InboundGroup.session_from_key(str(key), exported=False)
        if session.session_id != session_id:
            raise DecryptionError("m.room_key session_id does not match its key")
        group = InboundGroup(
            str(room_id),
            session,
            payload.sender_key,
            payload.sender_ed25519,
            owner=payload.sender,
            source="room_key",
            shared_history=content.get("shared_history") is True,
        )
        return self.inbound.add(group)

    def decrypt_room_event(
        self, room_id: str, sender: str, event_id: str, origin_ts: int, content: JsonDict
    ) -> DecryptedRoomEvent:
        """Decrypt a Megolm `m.room.encrypted` event.

        Raises:
            MissingRoomKey: No key for the session (yet).
            ReplayedMessage: Its message index was used by another event.
            DecryptionError: Any other failure, including a session that belongs to another
                user than the sender.
        """
        plain = self.inbound.decrypt(room_id, sender, content, event_id, origin_ts)
        group = plain.group
        device = self.trust.device_by_curve25519(sender, group.sender_key)
        if device is not None and device.ed25519 != group.sender_ed25519:
            device = None
        return DecryptedRoomEvent(
            plain.event_type,
            plain.content,
            group.session_id,
            plain.message_index,
            group.sender_key,
            device,
            self.trust.trust(device) if device is not None else None,
            authenticated=group.owner == sender,
            source=group.source,
            forwarder=group.forwarder,
        )


def batch_to_device(
    event_type: str, messages: list[tuple[Device, JsonDict]]
) -> list[ToDeviceRequest]:
    """Group per-device contents into `sendToDevice` requests of bounded size."""
    requests: list[ToDeviceRequest] = []
    for start in range(0, len(messages), _MESSAGES_PER_REQUEST):
        chunk: dict[str, dict[str, JsonDict]] = {}
        for device, content in messages[start : start + _MESSAGES_PER_REQUEST]:
            chunk.setdefault(device.user_id, {})[device.device_id] = content
        requests.append(ToDeviceRequest(event_type, chunk))
    return requests

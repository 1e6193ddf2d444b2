"""Moving Megolm keys between devices: key requests, forwarding, history bundles, backup.

- Key requests (spec "Key requests"): a device missing a session asks the user's other devices
  with an unencrypted `m.room_key_request`; a device answers with an Olm-encrypted
  `m.forwarded_room_key` only if the requester is one of our own *verified* devices, and a
  forwarded key is accepted only from our own verified devices and only for a session we asked
  for. The requester then cancels the request everywhere else.
- History bundles (spec "Sharing keys between users", `m.room_key_bundle`): the sessions of a
  room marked shareable are collected into a `RoomKeyBundle` (uploaded as an encrypted
  attachment by the driver) and announced over Olm; the receiver imports only that room's keys
  and remembers who shared them.
- Backup (`m.megolm_backup.v1.curve25519-aes-sha2`): sessions are exported as
  `BackedUpSessionData`, encrypted to the backup key and restored with the private key.

Invariant: every imported key is checked to yield the session ID it claims.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from core.errors import JsonDict
from core.event_types import M_ROOM_ENCRYPTED
from sdk.crypto.errors import BackupError, DecryptionError
from sdk.crypto.machine.base import ToDeviceRequest
from sdk.crypto.machine.rooms import RoomsMixin, batch_to_device
from sdk.crypto.protocol.account import MEGOLM_ALGORITHM
from sdk.crypto.protocol.backup import BackupKey
from sdk.crypto.protocol.devices import Device, DeviceTrust
from sdk.crypto.protocol.megolm import InboundGroup
from sdk.crypto.protocol.olm import OlmPayload

__all__ = ["SharingMixin"]

logger = logging.getLogger(__name__)


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class SharingMixin(RoomsMixin):
    """Key requests and forwards, history bundles, server-side backup."""

    # --- queued Olm messages -----------------------------------------------------------

    def queue_olm(self, device: Device, event_type: str, content: JsonDict) -> None:
        """Queue a to-device event to be Olm-encrypted for `device` at the next flush."""
        self.pending_olm.append((device, event_type, content))

    def pending_olm_devices(self) -> list[Device]:
        """Devices with queued Olm messages (claim sessions for them before flushing)."""
        return [device for device, _, _ in self.pending_olm]

    def flush_olm(self) -> list[ToDeviceRequest]:
        """Encrypt queued messages for devices we have sessions with; drop the rest."""
        messages: list[tuple[Device, JsonDict]] = []
        for device, event_type, content in self.pending_olm:
            if self.olm.has_session(device.curve25519):
                messages.append((device, self.olm.encrypt(device, event_type, content)))
            else:
                logger.warning(
                    "dropping %s: no olm session device_id=%s", event_type, device.device_id
                )
        self.pending_olm = []
        return batch_to_device(M_ROOM_ENCRYPTED, messages)

    # --- key requests ------------------------------------------------------------------

    def request_room_key(
        self, room_id: str, session_id: str, sender_key: str | None = None
    ) -> ToDeviceRequest | None:
        """An `m.room_key_request` to our other devices, unless one is already outstanding."""
        if (room_id, session_id) in self.key_requests:
            return None
        request_id = secrets.token_urlsafe(12)
        self.key_requests[(room_id, session_id)] = request_id
        body: JsonDict = {
            "algorithm": MEGOLM_ALGORITHM,
            "room_id": room_id,
            "session_id": session_id,
        }
        if sender_key is not None:
            body["sender_key"] = sender_key
        content = {
            "action": "request",
            "body": body,
            "request_id": request_id,
            "requesting_device_id": self.device_id,
        }
        return ToDeviceRequest("m.room_key_request", {self.user_id: {"*": content}})

    def receive_key_request(self, sender: str, content: JsonDict) -> None:
        """Handle an `m.room_key_request`: forward the key to our own verified devices."""
        requester = content.get("requesting_device_id")
        if sender != self.user_id or requester == self.device_id or not isinstance(requester, str):
            return
        if content.get("action") == "request_cancellation":
            request_id = content.get("request_id")
            self.pending_key_requests = [
                (s, c) for s, c in self.pending_key_requests if c.get("request_id") != request_id
            ]
            return
        body = content.get("body")
        if content.get("action") != "request" or not isinstance(body, dict):
            return
        group = self.inbound.get(str(body.get("room_id")), str(body.get("session_id")))
        if group is None:
            return
        device = self.trust.device(sender, requester)
        if device is None:
            self.pending_key_requests.append((sender, content))
            self.outdated.add(sender)
            return
        if self.trust.trust(device) is not DeviceTrust.VERIFIED:
            logger.info("not forwarding a room key to an unverified device device_id=%s", requester)
            return
        self.queue_olm(device, "m.forwarded_room_key", self._forward_content(group))

    def retry_key_requests(self) -> None:
        """Re-evaluate requests from devices that were unknown (after a keys query)."""
        pending, self.pending_key_requests = self.pending_key_requests, []
        for sender, content in pending:
            if self.trust.device(sender, str(content.get("requesting_device_id"))) is not None:
                self.receive_key_request(sender, content)

    def _forward_content(self, group: InboundGroup) -> JsonDict:
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "room_id": group.room_id,
            "sender_key": group.sender_key,
            "session_id": group.session_id,
            "session_key": group.export(),
            "sender_claimed_ed25519_key": group.sender_ed25519,
            "forwarding_curve25519_key_chain": list(group.forwarding_chain),
            "shared_history": group.shared_history,
        }

    def _exported_group(
        self, content: JsonDict, room_id: str, source: str, forwarder: str | None
    ) -> InboundGroup:
        session_id, key = content.get("session_id"), content.get("session_key")
        sender_key = content.get("sender_key")
        claimed = content.get("sender_claimed_ed25519_key")
        if claimed is None:
            keys = content.get("sender_claimed_keys")
            claimed = keys.get("ed25519") if isinstance(keys, dict) else None
        if content.get("algorithm") != MEGOLM_ALGORITHM or not all(
            isinstance(v, str) for v in (session_id, key, sender_key, claimed)
        ):
            raise DecryptionError("malformed exported room key")
        session = InboundGroup.session_from_key(str(key), exported=True)
        if session.session_id != session_id:
            raise DecryptionError("exported room key does not yield its session_id")
        return InboundGroup(
            room_id,
            session,
            str(sender_key),
            str(claimed),
            owner=None,
            source=source,
            forwarder=forwarder,
            forwarding_chain=_strings(content.get("forwarding_curve25519_key_chain")),
            shared_history=content.get("shared_history") is True,
        )

    def receive_forwarded_key(self, payload: OlmPayload) -> ToDeviceRequest | None:
        """Accept an `m.forwarded_room_key` we asked for from one of our verified devices.

        Returns:
            The `request_cancellation` to send to our other devices, if the key was taken.
        """
        device = payload.sender_device
        room_id, session_id = payload.content.get("room_id"), payload.content.get("session_id")
        request_id = self.key_requests.get((str(room_id), str(session_id)))
        if payload.sender != self.user_id or request_id is None:
            logger.info(
                "ignoring an unrequested forwarded room key from user_id=%s", payload.sender
            )
            return None
        if device is None or self.trust.trust(device) is not DeviceTrust.VERIFIED:
            logger.warning("ignoring a forwarded room key from an unverified device")
            return None
        group = self._exported_group(payload.content, str(room_id), "forwarded", payload.sender)
        group.forwarding_chain.append(payload.sender_key)
        self.inbound.add(group)
        del self.key_requests[(str(room_id), str(session_id))]
        cancel = {
            "action": "request_cancellation",
            "request_id": request_id,
            "requesting_device_id": self.device_id,
        }
        return ToDeviceRequest("m.room_key_request", {self.user_id: {"*": cancel}})

    # --- history bundles ---------------------------------------------------------------

    def room_key_bundle(self, room_id: str) -> JsonDict:
        """The `RoomKeyBundle` of a room: shareable sessions, the others listed as withheld."""
        room_keys: list[JsonDict] = []
        withheld: list[JsonDict] = []
        for (group_room, session_id), group in sorted(self.inbound.groups.items()):
            if group_room != room_id:
                continue
            if not group.shared_history:
                withheld.append(
                    {
                        "algorithm": MEGOLM_ALGORITHM,
                        "room_id": room_id,
                        "session_id": session_id,
                        "code": "m.history_not_shared",
                        "reason": "history is not shared in this room",
                    }
                )
                continue
            room_keys.append(
                {
                    "algorithm": MEGOLM_ALGORITHM,
                    "room_id": room_id,
                    "session_id": session_id,
                    "session_key": group.export(),
                    "sender_key": group.sender_key,
                    "sender_claimed_keys": {"ed25519": group.sender_ed25519},
                }
            )
        return {"room_keys": room_keys, "withheld": withheld}

    def queue_room_key_bundle(self, room_id: str, user_id: str, file_info: JsonDict) -> int:
        """Announce an uploaded bundle to every non-blocked device of `user_id`."""
        devices = [
            d for d in self.devices_of(user_id) if self.trust.trust(d) is not DeviceTrust.BLOCKED
        ]
        for device in devices:
            self.queue_olm(device, "m.room_key_bundle", {"room_id": room_id, "file": file_info})
        return len(devices)

    def import_room_key_bundle(self, bundle: JsonDict, room_id: str, sender: str) -> int:
        """Import the keys of `room_id` from a bundle `sender` shared; returns how many."""
        imported = 0
        for entry in bundle.get("room_keys") or []:
            if not isinstance(entry, dict) or entry.get("room_id") != room_id:
                continue
            try:
                group = self._exported_group(
                    {**entry, "shared_history": True}, room_id, "bundle", sender
                )
            except DecryptionError as exc:
                logger.warning("skipping a bad key in a bundle from user_id=%s: %s", sender, exc)
                continue
            imported += self.inbound.add(group)
        return imported

    # --- server-side backup ------------------------------------------------------------

    def groups_to_back_up(self, limit: int = 200) -> list[InboundGroup]:
        """Sessions not yet in the current backup."""
        return [g for g in self.inbound.groups.values() if not g.backed_up][:limit]

    def backup_body(self, groups: Iterable[InboundGroup]) -> JsonDict:
        """The `PUT /room_keys/keys` body for `groups` (needs `backup_encryptor`)."""
        if self.backup_encryptor is None:
            raise BackupError("no trusted backup to upload to")
        rooms: JsonDict = {}
        for group in groups:
            data = {
                "algorithm": MEGOLM_ALGORITHM,
                "forwarding_curve25519_key_chain": group.forwarding_chain,
                "sender_key": group.sender_key,
                "sender_claimed_keys": {"ed25519": group.sender_ed25519},
                "session_key": group.export(),
                "shared_history": group.shared_history,
            }
            device = self.trust.device_by_curve25519(group.owner or "", group.sender_key)
            verified = device is not None and self.trust.trust(device) is DeviceTrust.VERIFIED
            sessions = rooms.setdefault(group.room_id, {"sessions": {}})["sessions"]
            sessions[group.session_id] = {
                "first_message_index": group.first_known_index,
                "forwarded_count": len(group.forwarding_chain),
                "is_verified": verified,
                "session_data": self.backup_encryptor.encrypt(data),
            }
        return {"rooms": rooms}

    def mark_backed_up(self, groups: Iterable[InboundGroup]) -> None:
        """Record that `groups` are in the backup."""
        for group in groups:
            group.backed_up = True
            self.inbound.dirty.add((group.room_id, group.session_id))

    def import_backup(self, response: JsonDict, key: BackupKey) -> int:
        """Restore sessions from a `GET /room_keys/keys` body; returns how many were new.

        Raises:
            BackupError: Nothing in a non-empty backup decrypted (the wrong key).
        """
        imported = failed = 0
        rooms = response.get("rooms")
        for room_id, room in (rooms if isinstance(rooms, dict) else {}).items():
            sessions = room.get("sessions") if isinstance(room, dict) else None
            for session_id, data in (sessions if isinstance(sessions, dict) else {}).items():
                try:
                    if not isinstance(data, dict) or not isinstance(data.get("session_data"), dict):
                        raise BackupError("backed-up key lacks session_data")
                    content = key.decrypt(data["session_data"])
                    # BackedUpSessionData has no session_id: it is the key of the map.
                    content["session_id"] = session_id
                    group = self._exported_group(content, room_id, "backup", None)
                except (BackupError, DecryptionError) as exc:
                    logger.warning("skipping a backed-up session room_id=%s: %s", room_id, exc)
                    failed += 1
                    continue
                group.backed_up = True
                imported += self.inbound.add(group)
        if failed and not imported:
            raise BackupError("no backed-up session decrypted with this key")
        return imported

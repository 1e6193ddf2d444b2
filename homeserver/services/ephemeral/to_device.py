"""Send-to-device messaging (spec: Client-Server API "Send-to-Device messaging").

A send is stored in the database, one inbox row per recipient device, before it is
acknowledged, and it wakes each recipient's `/sync`. A device receives its messages in
`to_device.events`, oldest first and at most `SYNC_LIMIT` at a time, until it syncs with a
token past them: only then are they deleted. Repeating a transaction ID of the same device and
event type stores nothing. Messages to users of other servers are emitted on `remote_messages`
(federation relays them as `m.direct_to_device`); messages from other servers arrive through
`deliver_remote`, deduplicated by their sender and `message_id`.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

from core.errors import M_INVALID_PARAM, M_TOO_LARGE, JsonDict, MatrixError
from core.identifiers import DeviceId, UserId, server_name_of
from core.json_ingress import check_json
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.services.common.params import checked_user_id
from homeserver.services.common.requester import Requester
from homeserver.services.common.signals import Signal
from homeserver.storage.ephemeral.to_device import Outgoing, ToDeviceStore

logger = logging.getLogger(__name__)

# The largest message one device may receive: what fits in a federation EDU.
MAX_MESSAGE_BYTES = 65536
# The spec recommends at most 100 to-device messages per sync response.
SYNC_LIMIT = 100
MAX_ACKED = 100_000


@dataclass(frozen=True, slots=True)
class RemoteToDevice:
    """To-device messages of a local sender for users of other servers.

    Attributes:
        sender: The local sending user.
        event_type: The message type.
        message_id: Unique per sender (the receiver deduplicates with it).
        messages: `{user_id: {device_id or "*": content}}`, remote users only.
    """

    sender: UserId
    event_type: str
    message_id: str
    messages: dict[UserId, dict[str, JsonDict]]


class ToDeviceService:
    """Sends, delivers and acknowledges to-device messages."""

    def __init__(
        self, *, server_name: str, store: ToDeviceStore, notifier: Notifier, clock: Clock
    ) -> None:
        self._server_name = server_name
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._acked: dict[tuple[UserId, DeviceId], int] = {}
        # Emitted once per new send that names users of other servers.
        self.remote_messages: Signal[RemoteToDevice] = Signal("to_device.remote_messages")

    async def position(self) -> int:
        """The latest to-device stream position."""
        return await self._store.position()

    async def send(
        self, requester: Requester, event_type: str, txn_id: str, body: JsonDict
    ) -> None:
        """`PUT /sendToDevice/{eventType}/{txnId}`: store the messages and wake recipients."""
        remote: dict[UserId, dict[str, JsonDict]] = {}
        outgoing = self._parse(requester.user_id, event_type, body.get("messages"), remote)
        recipients = await self._store.send(
            (requester.user_id, requester.device_id),
            f"{event_type}/{txn_id}",
            outgoing,
            self._clock.time_ms(),
        )
        if recipients:
            self._notifier.notify(sorted(user_key(u) for u in recipients))
        if recipients is not None and remote:
            message_id = secrets.token_urlsafe(16)
            await self.remote_messages.emit(
                RemoteToDevice(requester.user_id, event_type, message_id, remote)
            )

    async def deliver_remote(
        self, sender: UserId, event_type: str, message_id: str, messages: object
    ) -> None:
        """Store messages from a user of another server for our users (once per
        `message_id` of that sender) and wake the recipients.

        Raises:
            MatrixError: `M_INVALID_PARAM` for malformed messages.
        """
        outgoing = self._parse(sender, event_type, messages, None)
        recipients = await self._store.send(
            (sender, DeviceId("")),
            f"federation/{event_type}/{message_id}",
            outgoing,
            self._clock.time_ms(),
        )
        if recipients:
            self._notifier.notify(sorted(user_key(u) for u in recipients))

    def _parse(
        self,
        sender: UserId,
        event_type: str,
        messages: object,
        remote: dict[UserId, dict[str, JsonDict]] | None,
    ) -> list[Outgoing]:
        """Local messages to store; messages to other servers' users go into `remote`
        (dropped when it is None: a remote sender cannot relay through us)."""
        if not isinstance(messages, dict):
            raise MatrixError(M_INVALID_PARAM, "messages must be an object")
        outgoing: list[Outgoing] = []
        for recipient, by_device in messages.items():
            user_id = checked_user_id(recipient)
            if not isinstance(by_device, dict) or not all(
                isinstance(c, dict) for c in by_device.values()
            ):
                raise MatrixError(M_INVALID_PARAM, "messages must map devices to objects")
            if server_name_of(user_id) != self._server_name:
                if remote is not None:
                    _check_size(
                        user_id, {"type": event_type, "sender": sender, "content": by_device}
                    )
                    remote[user_id] = by_device
                continue
            for device_id, content in by_device.items():
                message = {"type": event_type, "sender": sender, "content": content}
                check_json(message, floats=False)  # relayed over federation as canonical JSON
                encoded = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
                if len(encoded.encode()) > MAX_MESSAGE_BYTES:
                    raise MatrixError(M_TOO_LARGE, f"Message to {user_id} is too large")
                outgoing.append(Outgoing(user_id, device_id, message))
        return outgoing

    async def sync_events(
        self, user_id: UserId, device_id: DeviceId, since: int | None, upto: int
    ) -> tuple[list[JsonDict], int]:
        """Acknowledge messages up to `since`, then the next ones up to `upto`.

        Returns:
            The events for `to_device.events` and the position they reach: `upto`, or the
            last event's position when `SYNC_LIMIT` cut the batch short.
        """
        key = (user_id, device_id)
        # Deleting is a write: do it only when the acknowledged position moved.
        if since and since > self._acked.get(key, 0):
            await self._store.delete_through(user_id, device_id, since)
            self._acked[key] = since
            if len(self._acked) > MAX_ACKED:
                self._acked.pop(next(iter(self._acked)))
        if since is not None and since >= upto:
            return [], upto
        found = await self._store.messages(user_id, device_id, since or 0, upto, SYNC_LIMIT)
        reached = found[-1].stream_id if len(found) == SYNC_LIMIT else upto
        return [m.message for m in found], reached


def _check_size(user_id: UserId, message: JsonDict) -> None:
    check_json(message, floats=False)  # relayed over federation as canonical JSON
    encoded = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    if len(encoded.encode()) > MAX_MESSAGE_BYTES:
        raise MatrixError(M_TOO_LARGE, f"Message to {user_id} is too large")

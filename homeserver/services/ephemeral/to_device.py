"""Send-to-device messaging (spec: Client-Server API "Send-to-Device messaging").

A send is stored in the database, one inbox row per recipient device, before it is
acknowledged, and it wakes each recipient's `/sync`. A device receives its messages in
`to_device.events`, oldest first and at most `SYNC_LIMIT` at a time, until it syncs with a
token past them: only then are they deleted. Repeating a transaction ID of the same device and
event type stores nothing. Messages to users of other servers are dropped (no federation yet).
"""

from __future__ import annotations

import json
import logging

from core.errors import M_INVALID_PARAM, M_TOO_LARGE, JsonDict, MatrixError
from core.identifiers import DeviceId, UserId, server_name_of
from core.json_ingress import check_json
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.services.common.params import checked_user_id
from homeserver.services.common.requester import Requester
from homeserver.storage.ephemeral.to_device import Outgoing, ToDeviceStore

logger = logging.getLogger(__name__)

# The largest message one device may receive: what fits in a federation EDU.
MAX_MESSAGE_BYTES = 65536
# The spec recommends at most 100 to-device messages per sync response.
SYNC_LIMIT = 100
MAX_ACKED = 100_000


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

    async def position(self) -> int:
        """The latest to-device stream position."""
        return await self._store.position()

    async def send(
        self, requester: Requester, event_type: str, txn_id: str, body: JsonDict
    ) -> None:
        """`PUT /sendToDevice/{eventType}/{txnId}`: store the messages and wake recipients."""
        outgoing = self._parse(requester.user_id, event_type, body.get("messages"))
        recipients = await self._store.send(
            (requester.user_id, requester.device_id),
            f"{event_type}/{txn_id}",
            outgoing,
            self._clock.time_ms(),
        )
        if recipients:
            self._notifier.notify(sorted(user_key(u) for u in recipients))

    def _parse(self, sender: UserId, event_type: str, messages: object) -> list[Outgoing]:
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
                logger.debug(
                    "dropping to-device message to remote user server=%s", server_name_of(user_id)
                )
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

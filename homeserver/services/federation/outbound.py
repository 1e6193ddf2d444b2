"""What this server tells other servers: its users' events (PDUs) and EDUs, through the
`federation` library's `TransactionSender`.

PDUs: a position-driven consumer of the events stream (see `services.common.signals`).
`EventService.persisted` only wakes it; `run` reads the events after its stored position,
queues every event sent by one of our users for the other servers with joined members in the
room (plus the server of a remote user the event kicks or bans), and stores the queued items
together with its new position, so a restart neither loses nor repeats a batch. When it has
never run, it starts at the head of the stream: history is not replayed to anyone. A batch of
other servers' events only (which never queue anything, whatever the room's members are when
it is read again) does not write its position at once, sparing a commit per received event;
the position is stored with the next batch that queues something, after
`POSITION_SAVE_EVERY` events, or at shutdown.

EDUs (handlers connected in `app.wiring.subscriptions`; each ignores remote users, whose own
server relays them): typing (`m.typing`) and public read receipts (`m.receipt`) to the servers
in the room, presence (`m.presence`) to the servers sharing a room with the user, and
to-device messages (`m.direct_to_device`) to the recipients' servers. A private receipt
(`m.read.private`) never leaves this server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Final

from core.errors import JsonDict
from core.event_types import M_ROOM_MEMBER, Membership
from core.identifiers import EventId, RoomId, ServerName, UserId, server_name_of
from federation.ports import PDU, NewOutbound
from federation.sender import TransactionSender
from homeserver.clock import Clock
from homeserver.services.common.stream_consumer import follow_stream
from homeserver.services.ephemeral.receipts import READ, ReceiptStored
from homeserver.services.ephemeral.to_device import RemoteToDevice
from homeserver.services.ephemeral.typing import TypingChanged
from homeserver.services.federation.membership_served import ServedMembership
from homeserver.services.rooms.events import EventPersisted
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.storage.ephemeral.presence import PresenceRecord
from homeserver.storage.federation.outbox import PDU_SENDER, LocalEvent, OutboxStore
from homeserver.storage.rooms.events import EventStore

__all__ = ["OutboundFederation"]

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 100
POSITION_SAVE_EVERY: Final = 1_000


class OutboundFederation:
    """Feeds the transaction sender from the events stream and the ephemeral services."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        sender: TransactionSender,
        store: OutboxStore,
        events: EventStore,
        clock: Clock,
        start_position: int,
        batch_size: int = BATCH_SIZE,
        expiry: EventExpiry | None = None,
    ) -> None:
        """Build the feeder.

        Args:
            server_name: Our server name.
            sender: The transaction sender (started by `run`).
            store: The queue and the consumer's position.
            events: Room memberships, to find the servers in a room.
            clock: Timestamps and retry pauses.
            start_position: Where to start when no position is stored (the stream head).
            batch_size: Events read per batch.
            expiry: Which events have expired (sent redacted: their content never leaves).
        """
        self._server_name = server_name
        self._sender = sender
        self._store = store
        self._events = events
        self._clock = clock
        self._start_position = start_position
        self._batch_size = batch_size
        self._expiry = expiry
        self._position: int | None = None
        self._saved: int | None = None
        self._wake = asyncio.Event()

    @property
    def position(self) -> int | None:
        """The events stream position read up to (None before the first batch)."""
        return self._position

    async def on_event_persisted(self, event: EventPersisted) -> None:
        """`EventService.persisted` handler: read on from the stored position soon."""
        self._wake.set()

    async def _expired(self, batch: list[LocalEvent]) -> dict[EventId, JsonDict]:
        """The redacted form of the batch's local events that expired before being sent
        (self-destruct times in the past, history caught up on after a pause)."""
        if self._expiry is None:
            return {}
        by_room: dict[RoomId, list[LocalEvent]] = {}
        for event in batch:
            if server_name_of(event.sender) == self._server_name:
                by_room.setdefault(event.room_id, []).append(event)
        redacted: dict[EventId, JsonDict] = {}
        for room_id, events in by_room.items():
            gone = await self._expiry.expired(room_id, [(e.event_id, e.raw) for e in events])
            if gone:
                redacted.update(await self._expiry.redacted(room_id, gone))
        return redacted

    def retry_now(self, origin: ServerName) -> None:
        """`origin` just reached us: end the backoff of our queue to it."""
        self._sender.retry_now(origin)

    async def run(self) -> None:
        """Start the sender, then queue new local events until cancelled."""
        await self._sender.start()
        try:
            await follow_stream(
                "federation pdu feed",
                self.process_pending,
                self._wake,
                self._clock,
                lambda: self.position,
            )
        finally:
            await self._sender.close()
            await self._save_position()

    async def process_pending(self) -> int:
        """Queue one batch of new events; returns how many events were read."""
        self._wake.clear()
        if self._position is None:
            self._saved = await self._store.position(PDU_SENDER)
            self._position = self._saved if self._saved is not None else self._start_position
        batch = await self._store.events_after(self._position, self._batch_size)
        if not batch:
            return 0
        items: list[NewOutbound] = []
        local = False
        expired = await self._expired(batch)
        for event in batch:
            if server_name_of(event.sender) != self._server_name:
                continue
            local = True
            raw = expired.get(event.event_id, event.raw)
            for destination in sorted(await self._destinations_of(event)):
                items.append(NewOutbound(destination, PDU, _as_sent(raw), event.room_id))
        upto = batch[-1].stream_ordering
        saved = self._saved
        if local or saved is None or upto - saved >= POSITION_SAVE_EVERY:
            now = self._clock.time_ms()
            # Destinations with nothing queued get their items while this write runs.
            await self._sender.enqueue_ahead(
                items, lambda: self._store.add_with_position(items, now, PDU_SENDER, upto)
            )
            self._saved = upto
        self._position = upto
        return len(batch)

    async def _save_position(self) -> None:
        """Store a position that batches of remote events moved past (at shutdown)."""
        position = self._position
        if position is None or position == self._saved:
            return
        try:
            await self._store.add_with_position([], self._clock.time_ms(), PDU_SENDER, position)
        except Exception:  # the next start reads those events again, which queues nothing
            logger.exception("federation pdu feed could not store its position")
            return
        self._saved = position

    async def relay(self, served: ServedMembership) -> None:
        """`MembershipHandshakes.accepted` handler: queue a PDU another server's user sent
        through us (a `send_join`, `send_leave` or `send_knock` we served) for the other
        servers in its room, its origin excepted: the events stream feed only sends our own
        users' events."""
        room_id = served.pdu.get("room_id")
        if not isinstance(room_id, str):
            return
        servers = await self._room_servers(RoomId(room_id)) - {served.origin}
        await self._sender.send_pdu(servers, _as_sent(served.pdu))

    async def on_typing(self, change: TypingChanged) -> None:
        """`TypingService.changed` handler: relay a local user's typing as `m.typing`."""
        if not self._is_local(change.user_id):
            return
        content = {"room_id": change.room_id, "user_id": change.user_id, "typing": change.typing}
        await self._sender.send_edu(await self._room_servers(change.room_id), "m.typing", content)

    async def on_receipt(self, stored: ReceiptStored) -> None:
        """`ReceiptService.stored` handler: relay a local user's public receipt as
        `m.receipt` (private receipts stay here)."""
        receipt = stored.receipt
        if receipt.receipt_type != READ or not self._is_local(receipt.user_id):
            return
        data: JsonDict = {"ts": receipt.ts}
        if receipt.thread_id is not None:
            data["thread_id"] = receipt.thread_id
        content: JsonDict = {
            receipt.room_id: {
                READ: {receipt.user_id: {"event_ids": [receipt.event_id], "data": data}}
            }
        }
        await self._sender.send_edu(await self._room_servers(receipt.room_id), "m.receipt", content)

    async def on_presence(self, record: PresenceRecord) -> None:
        """`PresenceService.published` handler: relay a local user's presence as
        `m.presence` to the servers sharing a room with them."""
        if not self._is_local(record.user_id):
            return
        rooms = await self._events.rooms_for_user(record.user_id, [Membership.JOIN])
        servers: set[ServerName] = set()
        for room_id in rooms:
            servers |= await self._room_servers(room_id)
        if not servers:
            return
        await self._sender.send_edu(
            servers, "m.presence", {"push": [_presence(record, self._clock)]}
        )

    async def on_to_device(self, sent: RemoteToDevice) -> None:
        """`ToDeviceService.remote_messages` handler: one `m.direct_to_device` per server."""
        by_server: dict[ServerName, dict[UserId, dict[str, JsonDict]]] = {}
        for user_id, devices in sent.messages.items():
            by_server.setdefault((server_name_of(user_id)), {})[user_id] = devices
        for server, messages in sorted(by_server.items()):
            content = {
                "sender": sent.sender,
                "type": sent.event_type,
                "message_id": sent.message_id,
                "messages": messages,
            }
            await self._sender.send_edu([server], "m.direct_to_device", content)

    async def _destinations_of(self, event: LocalEvent) -> set[ServerName]:
        servers = await self._room_servers(event.room_id)
        raw = event.raw
        if raw.get("type") == M_ROOM_MEMBER and isinstance(raw.get("state_key"), str):
            content = raw.get("content")
            membership = content.get("membership") if isinstance(content, dict) else None
            if membership in (Membership.LEAVE, Membership.BAN):
                # A kicked or banned user's server must hear of it, though it left the room.
                servers.add(server_name_of(UserId(raw["state_key"])))
        servers.discard(self._server_name)
        return servers

    async def _room_servers(self, room_id: RoomId) -> set[ServerName]:
        """The other servers with joined members in the room now."""
        members = await self._events.room_members(room_id, Membership.JOIN)
        return _servers(members) - {self._server_name}

    def _is_local(self, user_id: UserId) -> bool:
        return server_name_of(user_id) == self._server_name


def _servers(users: Iterable[UserId]) -> set[ServerName]:
    return {(server_name_of(user)) for user in users}


def _as_sent(raw: JsonDict) -> JsonDict:
    """The PDU as other servers get it: without our local `unsigned` data (not signed)."""
    return {key: value for key, value in raw.items() if key != "unsigned"}


def _presence(record: PresenceRecord, clock: Clock) -> JsonDict:
    update: JsonDict = {
        "user_id": record.user_id,
        "presence": record.state,
        "currently_active": record.currently_active,
    }
    if record.last_active_ts:
        update["last_active_ago"] = max(0, clock.time_ms() - record.last_active_ts)
    if record.status_msg is not None:
        update["status_msg"] = record.status_msg
    return update

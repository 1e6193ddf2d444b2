"""Creating local events: build the PDU, check the auth rules, hash, sign, persist, notify.

Events of one room are created one at a time (a lock per room), so each new event's
`prev_events`, depth and state follow from the previous one. The current state of each room
this process writes to is cached, so the hot path reads no state from the database. Those
room heads and states are kept up to date here after each commit rather than invalidated, so
they assume this process is the only one writing to its rooms (see `homeserver.caching`); a
head is only dropped while its commit is reported, so nobody woken by an event reads the state
from before it.

After each commit, in stream order, the event goes into the recent-events cache, wakes the
`/sync` waiters of its room, and is emitted on `persisted` (an `EventPersisted` carrying its
stream position; see `services.common.signals` for how consumers follow the stream).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from core.auth_rules import auth_types_for_event, check_auth
from core.errors import M_NOT_FOUND, M_ROOM_IN_USE, JsonDict, MatrixError
from core.event_format import check_pdu_format
from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER
from core.events import Pdu
from core.hashes import compute_event_id, sign_event
from core.identifiers import EventId, RoomId, UserId
from core.room_versions import RoomVersion, get_room_version
from core.signing import SigningKey
from homeserver.caching import CacheRegistry, LruCache
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, room_key, user_key
from homeserver.services.common.signals import Signal
from homeserver.services.rooms.event_input import check_event_input
from homeserver.services.rooms.event_writer import EventWriter
from homeserver.services.rooms.recent_events import RecentEvents
from homeserver.storage.rooms.events import (
    EventStore,
    PendingEvent,
    RemoteState,
    RoomHead,
    StateIds,
    TxnKey,
)

_PDU_CACHE_SIZE = 50_000
_STATE_CACHE_SIZE = 10_000
_GROUP_CACHE_SIZE = 512
PDU_CACHE: Final = "event_pdus"

Cosign = Callable[[Pdu], Awaitable[Pdu]]
"""Returns the event with another server's signature added (an invite to a remote user)."""


@dataclass(frozen=True, slots=True)
class EventPersisted:
    """An event was committed at `stream_ordering` of the events stream.

    Position-driven consumers use it only as a wake-up and read on from their own stored
    position; `pdu` is there for quick in-memory reactions.
    """

    stream_ordering: int
    room_id: RoomId
    event_id: EventId
    pdu: Pdu


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What a client asks to send."""

    room_id: RoomId
    sender: UserId
    type: str
    content: JsonDict
    state_key: str | None = None
    redacts: EventId | None = None


@dataclass(frozen=True, slots=True)
class SentEvent:
    """The outcome of sending: the event ID and its stream position (0 if deduplicated)."""

    event_id: EventId
    stream_ordering: int
    pdu: Pdu | None


class EventService:
    """The one place local events are made."""

    def __init__(
        self,
        *,
        server_name: str,
        signing_key: SigningKey,
        store: EventStore,
        notifier: Notifier,
        recent: RecentEvents,
        clock: Clock,
        caches: CacheRegistry,
    ) -> None:
        self._server_name = server_name
        self._key = signing_key
        self._store = store
        self._notifier = notifier
        self._recent = recent
        self._clock = clock
        # Emitted on the writer task after each commit, in stream order.
        self.persisted: Signal[EventPersisted] = Signal("events.persisted")
        self._locks: dict[RoomId, asyncio.Lock] = {}
        self._caches = caches
        self._pdus: LruCache[EventId, Pdu] = caches.lru(PDU_CACHE, _PDU_CACHE_SIZE)
        # Single writer: both are advanced in place after each commit of this process.
        self._state: LruCache[RoomId, tuple[int | None, StateIds]] = caches.lru(
            "room_state", _STATE_CACHE_SIZE
        )
        self._heads: LruCache[RoomId, RoomHead] = caches.lru("room_heads", _STATE_CACHE_SIZE)
        # A state group never changes once written, so its state needs no invalidation.
        self._groups: LruCache[int, StateIds] = caches.lru("state_groups", _GROUP_CACHE_SIZE)
        # The state group after an event never changes either (nor when it is redacted).
        self._event_groups: LruCache[EventId, int] = caches.lru(
            "event_state_groups", _STATE_CACHE_SIZE
        )
        self._writer = EventWriter(store, clock, self._committed)

    async def send(
        self, event: NewEvent, txn: TxnKey | None = None, cosign: Cosign | None = None
    ) -> SentEvent:
        """Create, authorise and persist an event (co-signed first by `cosign` if given).

        Raises:
            MatrixError: `M_NOT_FOUND` for an unknown room, `M_FORBIDDEN` when the auth rules
                refuse it, `M_BAD_JSON` / `M_TOO_LARGE` for a malformed event.
        """
        check_event_input(event.type, event.state_key, event.content)
        lock = self._locks.setdefault(event.room_id, asyncio.Lock())
        async with lock:
            if txn is not None:
                existing = await self._store.event_for_txn(txn)
                if existing is not None:
                    return SentEvent(existing, 0, None)
            return await self._send_locked(event, txn, cosign)

    async def _send_locked(
        self, event: NewEvent, txn: TxnKey | None, cosign: Cosign | None = None
    ) -> SentEvent:
        head = await self._head(event.room_id)
        version = get_room_version(head.room_version)
        if version is None:
            raise MatrixError(M_NOT_FOUND, "Room version not supported")
        state = await self._state_for(event.room_id, head.state_group)
        auth_ids = [
            state[key]
            for key in auth_types_for_event(
                event.type, event.state_key, event.sender, event.content, version
            )
            if key in state
        ]
        pdu = self._build(event, version, head.prev_event_ids, auth_ids, head.depth)
        check_pdu_format(pdu.raw, version)
        checked_ids = list(auth_ids)
        create_id = state.get((M_ROOM_CREATE, ""))
        if version.room_id_from_create_event and create_id is not None:
            checked_ids.append(create_id)  # named by the room ID, not listed in auth_events
        pdus = await self.get_pdus(checked_ids)
        check_auth(pdu, {pair: p for p in pdus if (pair := p.state_pair()) is not None})
        if cosign is not None:
            pdu = await cosign(pdu)
        return await self._persist(pdu, head, state, txn)

    def build_create(
        self,
        sender: UserId,
        content: JsonDict,
        version: RoomVersion,
        *,
        room_id: RoomId | None,
        not_before_ms: int = 0,
    ) -> Pdu:
        """The signed `m.room.create` event of a new room, not yet persisted.

        Args:
            sender: The room's creator.
            content: The create event's content.
            version: The new room's version.
            room_id: The room's ID in versions where the server picks it; None in versions
                where the create event names the room (v12), whose ID is then `pdu.room_id`.
            not_before_ms: The earliest `origin_server_ts`, so that a retry after a room ID
                collision hashes to a different ID even on a clock that has not moved.

        Raises:
            ValueError: If `room_id` is given in a version that derives it, or missing in one
                that does not.
        """
        if (room_id is None) != version.room_id_from_create_event:
            raise ValueError(f"room version {version.identifier} and room_id {room_id!r} disagree")
        raw: dict[str, Any] = {
            "sender": sender,
            "type": M_ROOM_CREATE,
            "state_key": "",
            "content": content,
            "origin_server_ts": max(self._clock.time_ms(), not_before_ms),
            "prev_events": [],
            "auth_events": [],
            "depth": 1,
        }
        if room_id is not None:
            raw["room_id"] = room_id
        return self._sign(raw, version)

    async def send_create(self, pdu: Pdu) -> SentEvent:
        """Persist a create event from `build_create` as the first event of its room, whose
        row (`EventStore.create_room`) must exist.

        Raises:
            MatrixError: `M_NOT_FOUND` if the room row is missing, `M_ROOM_IN_USE` if the room
                already has events, `M_FORBIDDEN` if the auth rules refuse the event.
        """
        lock = self._locks.setdefault(pdu.room_id, asyncio.Lock())
        async with lock:
            head = await self._head(pdu.room_id)
            if head.prev_event_ids:
                raise MatrixError(M_ROOM_IN_USE, "The room already has events")
            check_pdu_format(pdu.raw, pdu.room_version)
            check_auth(pdu, {})
            return await self._persist(pdu, head, {}, None)

    async def _persist(
        self, pdu: Pdu, head: RoomHead, state: StateIds, txn: TxnKey | None
    ) -> SentEvent:
        """Write an authorised event and advance the cached head and state of its room."""
        stream, group = await self._writer.write(PendingEvent(pdu, head.state_group, txn))
        self._advance_state(pdu, state, group)
        self._heads.put(
            pdu.room_id, RoomHead(head.room_version, [pdu.event_id], pdu.depth + 1, group)
        )
        return SentEvent(pdu.event_id, stream, pdu)

    def room_lock(self, room_id: RoomId) -> asyncio.Lock:
        """The lock under which a room's events are appended (held by `persist_remote`'s
        caller from its check against the current state until the write)."""
        return self._locks.setdefault(room_id, asyncio.Lock())

    async def room_head(self, room_id: RoomId) -> RoomHead:
        """Where the room's next event attaches (`M_NOT_FOUND` for an unknown room)."""
        return await self._head(room_id)

    async def persist_remote(self, pdu: Pdu, remote: RemoteState) -> SentEvent:
        """Write an accepted event from another server (the caller holds `room_lock`) and
        reload the room's head, whose extremities and state it may have changed."""
        stream, group = await self._writer.write(
            PendingEvent(pdu, remote.before_group, None, remote)
        )
        self._groups.put(group, dict(with_state_event(remote.before, pdu)))
        self._event_groups.put(pdu.event_id, group)
        head = await self._store.room_head(pdu.room_id)
        if head is not None:
            self._heads.put(pdu.room_id, head)
        return SentEvent(pdu.event_id, stream, pdu)

    async def _committed(self, stream: int, pending: PendingEvent) -> None:
        """Called by the writer for each committed event, in stream order."""
        pdu = pending.pdu
        # The cached head still names the state before this event until the sender advances
        # it; dropped now, a reader woken below reads the committed head from the database.
        self._heads.invalidate(pdu.room_id)
        self._remember(pdu)
        self._recent.append(stream, pdu, pending.txn)
        self._notifier.notify(self._wake_keys(pdu))
        await self.persisted.emit(EventPersisted(stream, pdu.room_id, pdu.event_id, pdu))

    async def close(self) -> None:
        """Finish writing queued events (app shutdown)."""
        await self._writer.close()

    def _build(
        self,
        event: NewEvent,
        version: RoomVersion,
        prev_ids: list[EventId],
        auth_ids: list[EventId],
        depth: int,
    ) -> Pdu:
        raw: dict[str, Any] = {
            "room_id": event.room_id,
            "sender": event.sender,
            "type": event.type,
            "content": event.content,
            "origin_server_ts": self._clock.time_ms(),
            "prev_events": prev_ids,
            "auth_events": auth_ids,
            "depth": depth,
        }
        if event.state_key is not None:
            raw["state_key"] = event.state_key
        if event.redacts is not None and not version.redacts_in_content:
            raw["redacts"] = event.redacts
        return self._sign(raw, version)

    def sign(self, raw: JsonDict, version: RoomVersion) -> Pdu:
        """Hash and sign an event built elsewhere (a join from another server's template)."""
        return self._sign(raw, version)

    def _sign(self, raw: JsonDict, version: RoomVersion) -> Pdu:
        """Hash and sign a new event; its ID follows from the result."""
        signed = sign_event(raw, self._server_name, self._key, version)
        return Pdu(signed, compute_event_id(signed, version), version)

    async def get_pdus(self, event_ids: Sequence[EventId]) -> list[Pdu]:
        """Events as PDUs, from the cache where possible."""
        found: list[Pdu] = []
        missing: list[EventId] = []
        for event_id in event_ids:
            cached = self._pdus.get(event_id)
            if cached is None:
                missing.append(event_id)
            else:
                found.append(cached)
        if missing:
            stored = await self._store.get_events(missing)
            for event_id, row in stored.items():
                pdu = Pdu(row.raw, event_id, await self._version_of(row.room_id))
                self._remember(pdu)
                found.append(pdu)
        return found

    async def _version_of(self, room_id: RoomId) -> RoomVersion:
        identifier = await self._store.room_version(room_id)
        version = get_room_version(identifier or "")
        if version is None:
            raise MatrixError(M_NOT_FOUND, "Room version not supported")
        return version

    async def current_state(self, room_id: RoomId) -> StateIds:
        """The room's current state as event IDs (cached for rooms this process writes)."""
        head = await self._head(room_id)
        return dict(await self._state_for(room_id, head.state_group))

    async def _head(self, room_id: RoomId) -> RoomHead:
        """Where the room's next event attaches: from the cache this process keeps up to date
        after every commit, else from the database."""
        head = self._heads.get(room_id) or await self._store.room_head(room_id)
        if head is None:
            raise MatrixError(M_NOT_FOUND, "Unknown room")
        return head

    async def state_group_of(self, event_id: EventId) -> int | None:
        """The state group after an event of the timeline (None for one not held there)."""
        group = self._event_groups.get(event_id)
        if group is None:
            group = await self._store.state_group_of(event_id)
            if group is not None:
                self._event_groups.put(event_id, group)
        return group

    async def state_ids_for_group(self, group: int | None) -> StateIds:
        """The full state of a state group (a copy the caller may change)."""
        if group is None:
            return {}
        state = self._groups.get(group)
        if state is None:
            state = await self._store.state_ids_for_group(group)
            self._groups.put(group, state)
        return dict(state)

    async def _state_for(self, room_id: RoomId, group: int | None) -> StateIds:
        cached = self._state.get(room_id)
        if cached is not None and cached[0] == group:
            return cached[1]
        state = await self.state_ids_for_group(group)
        self._state.put(room_id, (group, state))
        return state

    def _advance_state(self, pdu: Pdu, before: StateIds, group: int) -> None:
        # The cache entry is replaced, never mutated, so readers holding the old map are safe.
        after = with_state_event(before, pdu)
        self._state.put(pdu.room_id, (group, after))
        self._groups.put(group, after)
        self._event_groups.put(pdu.event_id, group)

    def _remember(self, pdu: Pdu) -> None:
        self._pdus.put(pdu.event_id, pdu)

    def _wake_keys(self, pdu: Pdu) -> list[str]:
        keys = [room_key(pdu.room_id)]
        if pdu.type == M_ROOM_MEMBER and pdu.state_key is not None:
            # The event format check guarantees a membership's state key is a user ID.
            keys.append(user_key(UserId(pdu.state_key)))
        return keys

    def replace_cached(self, pdu: Pdu) -> None:
        """Drop the cached copy of an event that storage now holds in a new form (its
        redacted form), so no later read serves content that storage no longer holds; the
        recent-events log gets the new form."""
        self._caches.invalidate(PDU_CACHE, pdu.event_id)
        self._recent.replace(pdu)


def with_state_event(before: StateIds, pdu: Pdu) -> StateIds:
    """The state after `pdu` given the state before it (`before` itself for a message)."""
    if pdu.state_key is None:
        return before
    return {**before, (pdu.type, pdu.state_key): pdu.event_id}

"""Presence (spec: "Presence"): online, unavailable and offline, as users sync and go idle.

The state machine follows Synapse's constants. Syncing with `set_presence=online` (the default)
is activity and makes a user online; `unavailable` marks them idle; `offline` leaves presence
alone and does not count as a connection. The timeout job (`run_timeouts`, owned by `app.py`)
turns an online user unavailable after `IDLE_TIMEOUT_MS` without activity and anyone offline
after `SYNC_ONLINE_TIMEOUT_MS` without a sync connection.

Invariants: a change others can see (state, status message, `currently_active`) is written
with a new `presence` stream position before anyone is woken; activity timestamps change on
every sync, so they live in memory and are flushed in batches every `PERSIST_INTERVAL_MS` (and
on shutdown). On start the job reloads everyone not offline from the database, so timeouts
survive a restart. One process owns presence, as in Synapse; its cache holds the users it has
seen active, and drops them once they are offline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, JsonDict, MatrixError
from core.event_types import Membership
from core.identifiers import UserId, server_name_of
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, room_key, user_key
from homeserver.services.common.params import checked_user_id
from homeserver.services.common.signals import Signal
from homeserver.storage.ephemeral.presence import PresenceRecord, PresenceStore, offline_record
from homeserver.storage.rooms.events import EventStore

logger = logging.getLogger(__name__)

ONLINE = "online"
UNAVAILABLE = "unavailable"
OFFLINE = "offline"
STATES = frozenset({ONLINE, UNAVAILABLE, OFFLINE})

IDLE_TIMEOUT_MS = 5 * 60_000
SYNC_ONLINE_TIMEOUT_MS = 30_000
LAST_ACTIVE_GRANULARITY_MS = 60_000
PERSIST_INTERVAL_MS = 30_000
# A sync that never reported its end stops counting as a connection after this long.
MAX_SYNC_HOLD_MS = 10 * 60_000
SWEEP_INTERVAL_SECONDS = 5.0


def apply_timeouts(record: PresenceRecord, now_ms: int, connected: bool) -> PresenceRecord:
    """The presence `record` decays to at `now_ms` (pure; the timeout job's rule).

    Args:
        record: The current presence.
        now_ms: The time now.
        connected: Whether a sync of the user is in progress.
    """
    state = record.state
    if state == ONLINE and now_ms - record.last_active_ts > IDLE_TIMEOUT_MS:
        state = UNAVAILABLE
    if state != OFFLINE and not connected and now_ms - record.last_sync_ts > SYNC_ONLINE_TIMEOUT_MS:
        state = OFFLINE
    active = state == ONLINE and now_ms - record.last_active_ts < LAST_ACTIVE_GRANULARITY_MS
    return replace(record, state=state, currently_active=active)


def _visible(record: PresenceRecord) -> tuple[str, str | None, bool]:
    return (record.state, record.status_msg, record.currently_active)


class PresenceService:
    """Sets, times out and reports presence."""

    def __init__(
        self,
        store: PresenceStore,
        notifier: Notifier,
        events: EventStore,
        clock: Clock,
        *,
        server_name: str | None = None,
    ) -> None:
        """`server_name` is ours: users of other servers are never timed out here (their
        server reports their changes); None treats every stored user as ours."""
        self._server_name = server_name
        self._store = store
        self._notifier = notifier
        self._events = events
        self._clock = clock
        self._cache: dict[UserId, PresenceRecord] = {}
        self._dirty: set[UserId] = set()
        self._in_flight: dict[UserId, int] = {}
        self._write_lock = asyncio.Lock()
        # Emitted after a visible change is stored (federation relays local users').
        self.published: Signal[PresenceRecord] = Signal("presence.published")

    async def set_presence(self, user_id: UserId, presence: str, status_msg: str | None) -> None:
        """Set the user's presence explicitly (`PUT /presence/{userId}/status`).

        Raises:
            MatrixError: `M_INVALID_PARAM` for an unknown presence value.
        """
        _check_state(presence)
        now = self._clock.time_ms()
        record = await self._record(user_id)
        if presence == OFFLINE:
            new = replace(record, state=OFFLINE, status_msg=status_msg, currently_active=False)
        elif presence == ONLINE:
            new = replace(
                record,
                state=ONLINE,
                status_msg=status_msg,
                last_active_ts=now,
                last_sync_ts=max(record.last_sync_ts, now),
                currently_active=True,
            )
        else:
            new = replace(
                record,
                state=UNAVAILABLE,
                status_msg=status_msg,
                last_sync_ts=max(record.last_sync_ts, now),
                currently_active=False,
            )
        if self._set(record, new):
            await self._publish(user_id)

    async def set_remote_presence(self, record: PresenceRecord) -> None:
        """Store the presence a user's own server reported (the timeout job leaves it alone:
        that server times the user out and tells us)."""
        async with self._write_lock:
            await self._store.put_visible(record)
        await self._wake_and_emit(record)

    async def get_presence(self, requester_id: UserId, user_id: UserId) -> JsonDict:
        """The presence of `user_id` as `GET /presence/{userId}/status` reports it.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a malformed user ID, `M_FORBIDDEN` if the
                requester shares no room with the user.
        """
        user_id = checked_user_id(user_id)
        if requester_id != user_id and not await self._share_room(requester_id, user_id):
            raise MatrixError(M_FORBIDDEN, "You are not allowed to see their presence")
        record = self._cache.get(user_id) or await self._store.get(user_id)
        return self._content(record or offline_record(user_id), self._clock.time_ms())

    async def on_sync(self, user_id: UserId, set_presence: str | None) -> None:
        """Record a `/sync` of the user with its `set_presence` (default `online`).

        `offline` leaves presence unchanged. Call `sync_finished` when the sync returns.

        Raises:
            MatrixError: `M_INVALID_PARAM` for an unknown presence value.
        """
        presence = set_presence or ONLINE
        _check_state(presence)
        if presence == OFFLINE:
            return
        now = self._clock.time_ms()
        record = await self._record(user_id)
        if presence == ONLINE:
            new = replace(
                record, state=ONLINE, last_active_ts=now, last_sync_ts=now, currently_active=True
            )
        else:
            new = replace(record, state=UNAVAILABLE, last_sync_ts=now, currently_active=False)
        self._in_flight[user_id] = self._in_flight.get(user_id, 0) + 1
        if self._set(record, new):
            await self._publish(user_id)

    def sync_finished(self, user_id: UserId) -> None:
        """Record that a `/sync` for which `on_sync` ran has returned (or failed)."""
        count = self._in_flight.get(user_id, 0) - 1
        if count > 0:
            self._in_flight[user_id] = count
        else:
            self._in_flight.pop(user_id, None)
        record = self._cache.get(user_id)
        if count >= 0 and record is not None and record.state != OFFLINE:
            self._set(record, replace(record, last_sync_ts=self._clock.time_ms()))

    async def current_position(self) -> int:
        """The latest presence stream position."""
        return await self._store.current_position()

    async def presence_events(self, viewer: UserId, since: int, until: int) -> list[JsonDict]:
        """`m.presence` events of the viewer and everyone sharing a joined room with them,
        for changes in `(since, until]`; with `since == 0`, everyone's current presence
        except offline users."""
        records = await self._store.visible_changes(viewer, since, until, since > 0)
        now = self._clock.time_ms()
        return [self._event(r, now) for r in records]

    async def current_presence_events(self, users: Iterable[UserId]) -> list[JsonDict]:
        """The current `m.presence` of each user who is not offline (for people who have just
        come to share a room with the viewer, whose presence may not have changed in a while)."""
        now = self._clock.time_ms()
        events = []
        for user_id in users:
            record = self._cache.get(user_id) or await self._store.get(user_id)
            if record is not None and record.state != OFFLINE:
                events.append(self._event(record, now))
        return events

    async def load(self) -> None:
        """Take over everyone the database says is not offline (on start).

        Users whose last sync is recent enough that they may still be connected get one
        `SYNC_ONLINE_TIMEOUT_MS` from now to reconnect; the rest time out at the next check.
        """
        now = self._clock.time_ms()
        for record in await self._store.not_offline():
            if record.user_id in self._cache or not self._is_local(record.user_id):
                continue
            if now - record.last_sync_ts <= SYNC_ONLINE_TIMEOUT_MS + PERSIST_INTERVAL_MS:
                record = replace(record, last_sync_ts=max(record.last_sync_ts, now))
            self._cache[record.user_id] = record

    async def check_timeouts(self) -> None:
        """Apply the idle and offline timeouts to everyone cached; publish what changed."""
        now = self._clock.time_ms()
        changed: list[UserId] = []
        for user_id, record in list(self._cache.items()):
            new = apply_timeouts(record, now, self._connected(user_id, record, now))
            if new != record and self._set(record, new):
                changed.append(user_id)
            elif self._evictable(user_id, new):
                del self._cache[user_id]
        for user_id in changed:
            await self._publish(user_id)

    async def flush(self) -> None:
        """Write the activity timestamps changed since the last flush."""
        users, self._dirty = self._dirty, set()
        rows = [
            (r.user_id, r.last_active_ts, r.last_sync_ts)
            for r in (self._cache.get(u) for u in sorted(users))
            if r is not None
        ]
        if rows:
            await self._store.put_timestamps_many(rows)

    async def run_timeouts(self, interval_seconds: float = SWEEP_INTERVAL_SECONDS) -> None:
        """Load from the database, then check timeouts every `interval_seconds` and flush
        timestamps every `PERSIST_INTERVAL_MS`, until cancelled."""
        loaded = False
        last_flush = self._clock.monotonic()
        while True:
            try:
                if not loaded:
                    await self.load()
                    loaded = True
                await self.check_timeouts()
                if (self._clock.monotonic() - last_flush) * 1000 >= PERSIST_INTERVAL_MS:
                    last_flush = self._clock.monotonic()
                    await self.flush()
            except Exception:
                logger.exception("presence timeout check failed")
            await self._clock.sleep(interval_seconds)

    def _is_local(self, user_id: UserId) -> bool:
        return self._server_name is None or server_name_of(user_id) == self._server_name

    def _evictable(self, user_id: UserId, record: PresenceRecord) -> bool:
        # An offline user with nothing unwritten is fully described by the database.
        return (
            record.state == OFFLINE
            and user_id not in self._dirty
            and user_id not in self._in_flight
        )

    def _connected(self, user_id: UserId, record: PresenceRecord, now: int) -> bool:
        return user_id in self._in_flight and now - record.last_sync_ts < MAX_SYNC_HOLD_MS

    async def _record(self, user_id: UserId) -> PresenceRecord:
        cached = self._cache.get(user_id)
        if cached is not None:
            return cached
        stored = await self._store.get(user_id) or offline_record(user_id)
        return self._cache.setdefault(user_id, stored)

    def _set(self, old: PresenceRecord, new: PresenceRecord) -> bool:
        """Cache `new`; True if others can see the change (then `_publish` must follow)."""
        self._cache[new.user_id] = new
        if _visible(old) != _visible(new):
            return True
        if new != old:
            self._dirty.add(new.user_id)
        return False

    async def _publish(self, user_id: UserId) -> None:
        """Store the user's cached presence with a new stream position and wake syncs."""
        async with self._write_lock:
            # Write what is cached now, so the last write always carries the latest state.
            record = self._cache.get(user_id)
            if record is None:
                return
            await self._store.put_visible(record)
            self._dirty.discard(user_id)
        await self._wake_and_emit(record)

    async def _wake_and_emit(self, record: PresenceRecord) -> None:
        user_id = record.user_id
        rooms = await self._events.rooms_for_user(user_id, [Membership.JOIN])
        self._notifier.notify([user_key(user_id), *(room_key(r) for r in rooms)])
        await self.published.emit(record)

    async def _share_room(self, user_a: UserId, user_b: UserId) -> bool:
        rooms_a = set(await self._events.rooms_for_user(user_a, [Membership.JOIN]))
        return any(
            r in rooms_a for r in await self._events.rooms_for_user(user_b, [Membership.JOIN])
        )

    def _event(self, record: PresenceRecord, now: int) -> JsonDict:
        return {
            "type": "m.presence",
            "sender": record.user_id,
            "content": self._content(record, now),
        }

    def _content(self, record: PresenceRecord, now: int) -> JsonDict:
        cached = self._cache.get(record.user_id)
        last_active = max(record.last_active_ts, cached.last_active_ts if cached else 0)
        content: JsonDict = {"presence": record.state}
        if last_active:
            content["last_active_ago"] = max(0, now - last_active)
        if record.status_msg is not None:
            content["status_msg"] = record.status_msg
        if record.state == ONLINE:
            content["currently_active"] = record.currently_active
        return content


def _check_state(presence: str) -> None:
    if presence not in STATES:
        raise MatrixError(M_INVALID_PARAM, "presence must be online, unavailable or offline")

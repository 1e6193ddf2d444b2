"""Expiring messages on the client: when each message it holds must go (sans-I/O).

The server deletes expired messages (MSC1763 retention, self-destruct); a client must drop its
own copies at the same moment. `ExpiryTracker` is told of every timeline event as it arrives
(`observe`, with the room's current state), of read receipts (`receipts`, from the ephemeral
`m.receipt` events of a sync) and of redactions (`redacted`), and says which messages are due
(`due(now_ms)`) and when the next one is (`next_due`). The rules are `core.retention`'s, the
same as the server's: a room's `m.room.retention` within the server's limits (from the MSC1763
discovery endpoint, if the client asked), `org.matrix.self_destruct_after`, and
`org.matrix.self_destruct` from the first read receipt of someone other than the sender.

The fields are read from the event as received, so they are found in encrypted rooms too,
where they sit beside the ciphertext. Pending entries are plain JSON (`snapshot` / `restore`) so
the client can keep them in its store across restarts. `AsyncClient.expire_due` does the I/O:
it removes due messages from the room timelines, the store and the local search index, and
emits an `ExpiredEvent` to the expiry callbacks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.errors import JsonDict
from core.retention import (
    M_ROOM_RETENTION,
    SELF_DESTRUCT_AFTER,
    RetentionLimits,
    event_expiry,
    read_retention,
    read_self_destruct,
)
from core.retention import SELF_DESTRUCT as SELF_DESTRUCT_FIELD
from sdk.events import RoomEvent, StateEvent

__all__ = [
    "REDACTED",
    "RETENTION",
    "SELF_DESTRUCT",
    "ExpiredEvent",
    "ExpiryTracker",
    "limits_from_configuration",
    "self_destruct_fields",
]

RETENTION: Final = "retention"
SELF_DESTRUCT: Final = "self_destruct"
REDACTED: Final = "redacted"
_READ_TYPES: Final = ("m.read", "m.read.private")


@dataclass(frozen=True, slots=True)
class ExpiredEvent:
    """A message the client dropped.

    Attributes:
        room_id: Its room.
        event_id: The message.
        reason: `retention` (its room's lifetime passed), `self_destruct` (its own time came),
            or `redacted` (a redaction removed its content).
    """

    room_id: str
    event_id: str
    reason: str


@dataclass(slots=True)
class _Entry:
    """A message that will expire; `raw` holds only its time and self-destruct fields."""

    room_id: str
    sender: str
    order: int
    origin_server_ts: int
    raw: JsonDict = field(repr=False)
    read_ts: int | None = None
    expires_at: int | None = None
    reason: str = RETENTION


class ExpiryTracker:
    """Knows when each message the client holds expires (see the module docstring)."""

    def __init__(self, limits: RetentionLimits | None = None) -> None:
        self.limits = limits or RetentionLimits()
        self._entries: dict[str, _Entry] = {}
        self._order: dict[str, int] = {}
        self._lifetimes: dict[str, int | None] = {}
        self._redacted: list[ExpiredEvent] = []

    def set_limits(self, limits: RetentionLimits) -> None:
        """The server's policy (MSC1763 discovery); times are recomputed."""
        self.limits = limits
        self._lifetimes.clear()
        for entry in self._entries.values():
            self._schedule(entry)

    def room_changed(self, room_id: str, state: Mapping[tuple[str, str], StateEvent]) -> None:
        """The room's state may hold a new `m.room.retention`: recompute its messages."""
        lifetime = self._lifetime_of(state)
        if self._lifetimes.get(room_id, -1) == lifetime:
            return
        self._lifetimes[room_id] = lifetime
        for entry in self._entries.values():
            if entry.room_id == room_id:
                self._schedule(entry)

    def observe(self, event: RoomEvent, state: Mapping[tuple[str, str], StateEvent]) -> int | None:
        """A timeline event arrived; returns when it expires (None: not known to)."""
        if event.state_key is not None or not event.event_id:
            return None
        if event.type == "m.room.redaction":
            target = event.redacts or event.content.get("redacts")
            if isinstance(target, str):
                self.redacted(event.room_id, target)
            return None
        order = self._order.get(event.room_id, 0) + 1
        self._order[event.room_id] = order
        raw = _timing(event)
        if event.room_id not in self._lifetimes:
            self._lifetimes[event.room_id] = self._lifetime_of(state)
        entry = _Entry(event.room_id, event.sender, order, event.origin_server_ts, raw)
        self._schedule(entry)
        fields = read_self_destruct(raw)
        if entry.expires_at is None and fields.after_read_ms is None:
            return None
        self._entries[event.event_id] = entry
        return entry.expires_at

    def receipts(self, room_id: str, content: Mapping[str, Any], now_ms: int) -> bool:
        """An `m.receipt` content of the room; whether a timer started."""
        started = False
        for event_id, by_type in content.items():
            if not isinstance(by_type, Mapping):
                continue
            for kind in _READ_TYPES:
                readers = by_type.get(kind)
                if not isinstance(readers, Mapping):
                    continue
                for reader, data in readers.items():
                    ts = data.get("ts") if isinstance(data, Mapping) else None
                    read_ts = ts if type(ts) is int else now_ms
                    started |= self._read(room_id, str(event_id), str(reader), read_ts)
        return started

    def redacted(self, room_id: str, event_id: str) -> None:
        """A redaction removed a message's content: it goes at once."""
        self._entries.pop(event_id, None)
        self._redacted.append(ExpiredEvent(room_id, event_id, REDACTED))

    def due(self, now_ms: int) -> list[ExpiredEvent]:
        """The messages to drop now (each once), redacted ones first, then by time."""
        gone = list(self._redacted)
        self._redacted.clear()
        expired = sorted(
            (entry.expires_at, event_id)
            for event_id, entry in self._entries.items()
            if entry.expires_at is not None and entry.expires_at <= now_ms
        )
        for _, event_id in expired:
            entry = self._entries.pop(event_id)
            gone.append(ExpiredEvent(entry.room_id, event_id, entry.reason))
        return gone

    def next_due(self) -> int | None:
        """When the soonest message goes (None: none is set to)."""
        if self._redacted:
            return 0
        times = [e.expires_at for e in self._entries.values() if e.expires_at is not None]
        return min(times, default=None)

    def snapshot(self) -> JsonDict:
        """The pending entries as JSON, for the store."""
        return {
            "entries": {
                event_id: {
                    "room_id": e.room_id,
                    "sender": e.sender,
                    "order": e.order,
                    "raw": e.raw,
                    "read_ts": e.read_ts,
                }
                for event_id, e in self._entries.items()
            },
            "order": dict(self._order),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Pending entries from `snapshot` (kept next to the ones known already)."""
        order = data.get("order")
        if isinstance(order, Mapping):
            for room_id, value in order.items():
                if type(value) is int:
                    self._order[str(room_id)] = max(self._order.get(str(room_id), 0), value)
        entries = data.get("entries")
        for event_id, item in entries.items() if isinstance(entries, Mapping) else []:
            entry = _restored(item)
            if entry is not None and event_id not in self._entries:
                self._schedule(entry)
                self._entries[str(event_id)] = entry

    def forget_rooms(self, room_ids: Iterable[str]) -> None:
        """Stop tracking the messages of rooms the client no longer holds."""
        gone = set(room_ids)
        self._entries = {k: e for k, e in self._entries.items() if e.room_id not in gone}

    def _read(self, room_id: str, event_id: str, reader: str, read_ts: int) -> bool:
        covered = self._entries.get(event_id)
        started = False
        for entry in self._entries.values():
            if entry.room_id != room_id or entry.sender == reader or entry.read_ts is not None:
                continue
            if covered is not None and entry.order > covered.order:
                continue
            if covered is None and entry.origin_server_ts > read_ts:
                continue
            if read_self_destruct(entry.raw).after_read_ms is None:
                continue
            entry.read_ts = read_ts
            self._schedule(entry)
            started = True
        return started

    def _schedule(self, entry: _Entry) -> None:
        lifetime = self._lifetimes.get(entry.room_id)
        by_policy = event_expiry(entry.raw, lifetime) if lifetime is not None else None
        at = event_expiry(entry.raw, lifetime, entry.read_ts)
        entry.expires_at = at
        entry.reason = RETENTION if at is not None and at == by_policy else SELF_DESTRUCT

    def _lifetime_of(self, state: Mapping[tuple[str, str], StateEvent]) -> int | None:
        event = state.get((M_ROOM_RETENTION, ""))
        policy = read_retention(event.content) if event is not None else None
        return self.limits.max_lifetime(policy)


def self_destruct_fields(after_ms: int | None, after_read_ms: int | None) -> JsonDict:
    """The cleartext self-destruct fields of a message: `org.matrix.self_destruct_after` (now
    plus `after_ms`), `org.matrix.self_destruct` (`after_read_ms`).

    Raises:
        ValueError: A delay that is not a positive whole number of milliseconds.
    """
    fields: JsonDict = {}
    for name, value in (
        ("self_destruct_ms", after_ms),
        ("self_destruct_after_read_ms", after_read_ms),
    ):
        if value is not None and (type(value) is not int or value <= 0):
            raise ValueError(f"{name} must be a positive whole number of milliseconds")
    if after_ms is not None:
        fields[SELF_DESTRUCT_AFTER] = time.time_ns() // 1_000_000 + after_ms
    if after_read_ms is not None:
        fields[SELF_DESTRUCT_FIELD] = after_read_ms
    return fields


def _timing(event: RoomEvent) -> JsonDict:
    """What decides when `event` expires, and nothing of what it says: its time and its
    self-destruct fields as received (beside the ciphertext, for an encrypted one)."""
    received = event.encrypted if event.encrypted is not None else event
    content = received.raw.get("content") if received.raw else received.content
    content = content if isinstance(content, Mapping) else {}
    kept = {k: content[k] for k in (SELF_DESTRUCT_AFTER, SELF_DESTRUCT_FIELD) if k in content}
    return {"origin_server_ts": event.origin_server_ts, "content": kept}


def limits_from_configuration(body: Mapping[str, Any]) -> RetentionLimits:
    """The server's policy from its MSC1763 discovery answer (unknown parts: no bound)."""
    policies = body.get("policies")
    default = policies.get("*") if isinstance(policies, Mapping) else None
    lifetime = default.get("max_lifetime") if isinstance(default, Mapping) else None
    limits = body.get("limits")
    bounds = limits.get("max_lifetime") if isinstance(limits, Mapping) else None
    low = bounds.get("min") if isinstance(bounds, Mapping) else None
    high = bounds.get("max") if isinstance(bounds, Mapping) else None
    return RetentionLimits(
        enabled=True,
        default_max_lifetime=lifetime if type(lifetime) is int else None,
        allowed_min=low if type(low) is int else None,
        allowed_max=high if type(high) is int else None,
    )


def _restored(item: object) -> _Entry | None:
    if not isinstance(item, Mapping):
        return None
    raw, room_id, sender, order = (
        item.get("raw"),
        item.get("room_id"),
        item.get("sender"),
        item.get("order"),
    )
    if not (isinstance(raw, dict) and isinstance(room_id, str) and isinstance(sender, str)):
        return None
    ts = raw.get("origin_server_ts")
    read_ts = item.get("read_ts")
    return _Entry(
        room_id=room_id,
        sender=sender,
        order=order if type(order) is int else 0,
        origin_server_ts=ts if type(ts) is int else 0,
        raw=raw,
        read_ts=read_ts if type(read_ts) is int else None,
    )

"""Typed read-only views over raw PDUs (spec: "Room Events", server-server "PDUs").

The raw signed dict is the truth: a `Pdu` never copies or re-serializes it, it only reads it.
Field access is lenient (a missing field reads as empty); `core.event_format` decides whether
a PDU is well formed before anything trusts these views, which is why identifiers read from it
carry their `NewType` (`RoomId`, `UserId`, `EventId`) without being parsed again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import JsonDict
from core.event_types import M_ROOM_CREATE
from core.identifiers import EventId, RoomId, UserId
from core.room_versions import RoomVersion


class Pdu:
    """A room event as received or created: the raw dict plus its event ID and room version."""

    __slots__ = ("event_id", "raw", "room_version")

    def __init__(self, raw: JsonDict, event_id: str, room_version: RoomVersion) -> None:
        self.raw = raw
        self.event_id = EventId(event_id)
        self.room_version = room_version

    def __repr__(self) -> str:
        return f"Pdu({self.event_id!r}, type={self.type!r}, state_key={self.state_key!r})"

    @property
    def room_id(self) -> RoomId:
        """The room ID; a v12 create event has none, and its room ID is its own event ID."""
        room_id = self.raw.get("room_id")
        if (
            room_id is None
            and self.room_version.room_id_from_create_event
            and self.raw.get("type") == M_ROOM_CREATE
        ):
            return RoomId("!" + self.event_id[1:])
        return RoomId(str(room_id if room_id is not None else ""))

    @property
    def sender(self) -> UserId:
        return UserId(str(self.raw.get("sender", "")))

    @property
    def type(self) -> str:
        return str(self.raw.get("type", ""))

    @property
    def state_key(self) -> str | None:
        key = self.raw.get("state_key")
        return key if isinstance(key, str) else None

    @property
    def is_state(self) -> bool:
        return isinstance(self.raw.get("state_key"), str)

    @property
    def content(self) -> Mapping[str, Any]:
        content = self.raw.get("content")
        return content if isinstance(content, dict) else {}

    @property
    def prev_event_ids(self) -> Sequence[EventId]:
        return [EventId(e) for e in _str_list(self.raw.get("prev_events"))]

    @property
    def auth_event_ids(self) -> Sequence[EventId]:
        return [EventId(e) for e in _str_list(self.raw.get("auth_events"))]

    @property
    def depth(self) -> int:
        depth = self.raw.get("depth")
        return depth if isinstance(depth, int) and not isinstance(depth, bool) else 0

    @property
    def origin_server_ts(self) -> int:
        ts = self.raw.get("origin_server_ts")
        return ts if isinstance(ts, int) and not isinstance(ts, bool) else 0

    @property
    def redacts(self) -> EventId | None:
        """The redacted event's ID, read from where this room version keeps it."""
        if self.room_version.redacts_in_content:
            value = self.content.get("redacts")
        else:
            value = self.raw.get("redacts")
        return EventId(value) if isinstance(value, str) else None

    @property
    def membership(self) -> str | None:
        value = self.content.get("membership")
        return value if isinstance(value, str) else None

    @property
    def unsigned(self) -> Mapping[str, Any]:
        unsigned = self.raw.get("unsigned")
        return unsigned if isinstance(unsigned, dict) else {}

    def state_pair(self) -> tuple[str, str] | None:
        """`(type, state_key)` for a state event, None otherwise."""
        key = self.state_key
        return (self.type, key) if key is not None else None


def _str_list(value: object) -> Sequence[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []

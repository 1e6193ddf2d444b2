"""Typed read-only views of the events a client receives, parsed from the server's JSON.

`RoomEvent` is a timeline event; a `StateEvent` is one with a state key. An `UndecryptableEvent`
is the `m.room.encrypted` event that could not be decrypted, with the reason. A decrypted event is
a `RoomEvent` whose `encrypted` field holds the original ciphertext event. Each view keeps the raw
dict it came from in `raw`.

The properties a bot author reaches for (`body`, `msgtype`, `formatted_body`, `reply_to`,
`replaces`/`is_edit`, `thread_root`, `url`, `age`, `decrypted`, ...) are typed reads over `content`
and `unsigned`: an absent or mistyped field reads as None (or "" for `body`), never an exception.

Invariants: parsing never raises on a malformed event; it returns None and the caller drops the
event (a bad event must not stop a sync loop). Message content is left out of `repr`, so logging
an event never logs what it says.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import JsonDict
from sdk.errors import DecryptionError

__all__ = [
    "BasicEvent",
    "RoomEvent",
    "StateEvent",
    "StrippedStateEvent",
    "ToDeviceEvent",
    "UndecryptableEvent",
    "parse_basic_events",
    "parse_room_event",
    "parse_room_events",
    "parse_state_events",
    "parse_stripped_events",
    "parse_to_device_events",
    "undecryptable",
]

logger = logging.getLogger(__name__)

HTML_FORMAT = "org.matrix.custom.html"
THREAD = "m.thread"


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """A room event in the client format.

    Attributes:
        room_id: The room (filled in from the sync section when the event omits it).
        event_id: The event ID.
        type: The event type, e.g. `m.room.message` (the cleartext type once decrypted).
        sender: The sender's user ID.
        origin_server_ts: Milliseconds since the epoch at the sender's server.
        content: The event content (the cleartext content once decrypted).
        state_key: The state key of a state event, else None.
        unsigned: The `unsigned` block (`age`, `transaction_id`, `prev_content`, …).
        redacts: For `m.room.redaction` in older room versions, the redacted event.
        raw: The dict as received.
        encrypted: For a decrypted event, the original `m.room.encrypted` event.
        decryption_info: What the crypto layer reports about the decryption (sender key, device,
            trust), for a decrypted event.
    """

    room_id: str
    event_id: str
    type: str
    sender: str
    origin_server_ts: int
    content: JsonDict = field(default_factory=dict, repr=False)
    state_key: str | None = None
    unsigned: JsonDict = field(default_factory=dict, repr=False)
    redacts: str | None = None
    raw: JsonDict = field(default_factory=dict, repr=False, compare=False)
    encrypted: RoomEvent | None = field(default=None, repr=False)
    decryption_info: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def is_state(self) -> bool:
        """Whether this is a state event."""
        return self.state_key is not None

    @property
    def transaction_id(self) -> str | None:
        """The transaction ID, present on the sender's own device's events."""
        value = self.unsigned.get("transaction_id")
        return value if isinstance(value, str) else None

    # Typed reads of the content and `unsigned` (never raising: absent or mistyped is None).

    @property
    def body(self) -> str:
        """The plain-text `body` of a message ("" when it has none)."""
        return _str(self.content, "body") or ""

    @property
    def msgtype(self) -> str | None:
        """The message type: `m.text`, `m.notice`, `m.emote`, `m.image`, `m.file`, ..."""
        return _str(self.content, "msgtype")

    @property
    def formatted_body(self) -> str | None:
        """The HTML body, when the message has one in `org.matrix.custom.html`."""
        if self.content.get("format") != HTML_FORMAT:
            return None
        return _str(self.content, "formatted_body")

    @property
    def relates_to(self) -> JsonDict:
        """The `m.relates_to` object (empty when the event relates to nothing)."""
        return _dict(self.content.get("m.relates_to")) or {}

    @property
    def replaces(self) -> str | None:
        """For an edit (`rel_type` `m.replace`), the event ID of the edited event."""
        return self._relation("m.replace")

    @property
    def is_edit(self) -> bool:
        """Whether this event edits another (its `new_content` is the new message)."""
        return self.replaces is not None

    @property
    def new_content(self) -> JsonDict | None:
        """For an edit, the replacement content (`m.new_content`)."""
        return _dict(self.content.get("m.new_content")) if self.is_edit else None

    @property
    def reply_to(self) -> str | None:
        """The event ID this message replies to (`m.in_reply_to`); None for a thread's
        fallback reply (`is_falling_back`), which is not a reply the sender chose."""
        relates = self.relates_to
        if relates.get("is_falling_back") is True and relates.get("rel_type") == THREAD:
            return None
        return _str(_dict(relates.get("m.in_reply_to")) or {}, "event_id")

    @property
    def thread_root(self) -> str | None:
        """The thread's root event ID, for an event in a thread (`rel_type` `m.thread`)."""
        return self._relation(THREAD)

    @property
    def age(self) -> int | None:
        """Milliseconds between the event being sent and the server sending it to us."""
        value = self.unsigned.get("age")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def url(self) -> str | None:
        """The `mxc://` URI of a media message's content: `url`, or for an encrypted
        attachment the ciphertext's URI (`file.url`; see `encrypted_file`)."""
        return _str(self.content, "url") or _str(self.encrypted_file or {}, "url")

    @property
    def encrypted_file(self) -> JsonDict | None:
        """The `EncryptedFile` object of an encrypted attachment (`file`), else None."""
        file_info = _dict(self.content.get("file"))
        return file_info if file_info is not None and _str(file_info, "url") else None

    @property
    def mimetype(self) -> str | None:
        """A media message's MIME type (`info.mimetype`)."""
        return _str(_dict(self.content.get("info")) or {}, "mimetype")

    @property
    def size(self) -> int | None:
        """A media message's size in bytes (`info.size`)."""
        value = (_dict(self.content.get("info")) or {}).get("size")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def decrypted(self) -> bool:
        """Whether this event arrived encrypted and was decrypted (see `encrypted`)."""
        return self.encrypted is not None

    @property
    def is_redacted(self) -> bool:
        """Whether the server says this event was redacted (`redacted_because`)."""
        return "redacted_because" in self.unsigned

    def _relation(self, rel_type: str) -> str | None:
        relates = self.relates_to
        return _str(relates, "event_id") if relates.get("rel_type") == rel_type else None

    def decrypted_view(
        self, event_type: str, content: JsonDict, info: Mapping[str, Any] | None = None
    ) -> RoomEvent:
        """This encrypted event seen as its cleartext `event_type` and `content`.

        Args:
            event_type: The type inside the ciphertext.
            content: The content inside the ciphertext.
            info: Decryption details to expose as `decryption_info`.
        """
        return dataclasses.replace(
            self, type=event_type, content=content, encrypted=self, decryption_info=info
        )


@dataclass(frozen=True, slots=True)
class StateEvent(RoomEvent):
    """A room event with a state key (possibly the empty string)."""

    state_key: str = ""


@dataclass(frozen=True, slots=True)
class UndecryptableEvent(RoomEvent):
    """An `m.room.encrypted` event that could not be decrypted, and why."""

    error: DecryptionError = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class StrippedStateEvent:
    """A state event in stripped form (invite state): type, state key, sender, content."""

    type: str
    state_key: str
    sender: str
    content: JsonDict = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ToDeviceEvent:
    """A send-to-device event: type, sender and content (ciphertext for `m.room.encrypted`)."""

    type: str
    sender: str
    content: JsonDict = field(default_factory=dict, repr=False)
    raw: JsonDict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BasicEvent:
    """An event with only a type and content: account data, ephemeral, presence."""

    type: str
    content: JsonDict = field(default_factory=dict, repr=False)
    sender: str | None = None


def undecryptable(event: RoomEvent, error: DecryptionError) -> UndecryptableEvent:
    """The `UndecryptableEvent` for an encrypted event that failed with `error`."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(RoomEvent)}
    return UndecryptableEvent(**fields, error=error)


def _str(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def _dict(value: object) -> JsonDict | None:
    return value if isinstance(value, dict) else None


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def parse_room_event(raw: object, room_id: str) -> RoomEvent | None:
    """A `RoomEvent` (a `StateEvent` if it has a state key) from its JSON, or None if malformed."""
    if not isinstance(raw, dict):
        return None
    event_id, etype, sender = raw.get("event_id"), raw.get("type"), raw.get("sender")
    ts, content = raw.get("origin_server_ts"), raw.get("content")
    if not (_is_str(event_id) and _is_str(etype) and _is_str(sender)):
        logger.debug("dropping malformed event event_id=%s", event_id)
        return None
    if not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(content, dict):
        logger.debug("dropping malformed event event_id=%s", event_id)
        return None
    unsigned = raw.get("unsigned")
    redacts = raw.get("redacts")
    state_key = raw.get("state_key")
    event_room = raw.get("room_id")
    common: dict[str, Any] = {
        "room_id": event_room if isinstance(event_room, str) else room_id,
        "event_id": event_id,
        "type": etype,
        "sender": sender,
        "origin_server_ts": ts,
        "content": content,
        "unsigned": unsigned if isinstance(unsigned, dict) else {},
        "redacts": redacts if isinstance(redacts, str) else None,
        "raw": raw,
    }
    if isinstance(state_key, str):
        return StateEvent(state_key=state_key, **common)
    if state_key is not None:
        return None
    return RoomEvent(**common)


def parse_room_events(raws: object, room_id: str) -> tuple[RoomEvent, ...]:
    """The well-formed events of a JSON list (malformed ones dropped)."""
    events = (parse_room_event(raw, room_id) for raw in _list(raws))
    return tuple(e for e in events if e is not None)


def parse_state_events(raws: object, room_id: str) -> tuple[StateEvent, ...]:
    """The well-formed state events of a JSON list."""
    events = (parse_room_event(raw, room_id) for raw in _list(raws))
    return tuple(e for e in events if isinstance(e, StateEvent))


def parse_stripped_events(raws: object) -> tuple[StrippedStateEvent, ...]:
    """The well-formed stripped state events of a JSON list."""
    parsed: list[StrippedStateEvent] = []
    for raw in _dicts(raws):
        etype, key, sender, content = (
            raw.get(k) for k in ("type", "state_key", "sender", "content")
        )
        if isinstance(etype, str) and isinstance(key, str) and isinstance(content, dict):
            parsed.append(
                StrippedStateEvent(etype, key, sender if isinstance(sender, str) else "", content)
            )
    return tuple(parsed)


def parse_to_device_events(raws: object) -> tuple[ToDeviceEvent, ...]:
    """The well-formed to-device events of a JSON list."""
    parsed: list[ToDeviceEvent] = []
    for raw in _dicts(raws):
        etype, sender, content = raw.get("type"), raw.get("sender"), raw.get("content")
        if isinstance(etype, str) and isinstance(sender, str) and isinstance(content, dict):
            parsed.append(ToDeviceEvent(etype, sender, content, raw))
    return tuple(parsed)


def parse_basic_events(raws: object) -> tuple[BasicEvent, ...]:
    """The well-formed type-and-content events of a JSON list."""
    parsed: list[BasicEvent] = []
    for raw in _dicts(raws):
        etype, content, sender = raw.get("type"), raw.get("content"), raw.get("sender")
        if isinstance(etype, str) and isinstance(content, dict):
            parsed.append(BasicEvent(etype, content, sender if isinstance(sender, str) else None))
    return tuple(parsed)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: object) -> Iterable[JsonDict]:
    return (item for item in _list(value) if isinstance(item, dict))

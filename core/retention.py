"""Message retention (MSC1763 `m.room.retention` plus a server policy) and self-destructing
messages, as pure rules: parsing, clamping, and when an event expires.

A room's `m.room.retention` state gives `max_lifetime` and `min_lifetime` in milliseconds.
The server's `RetentionLimits` decide what applies: a room without a `max_lifetime` gets the
server default, and every lifetime is clamped into the allowed range; a `min_lifetime` above
the result raises it (the room asked to keep messages at least that long). State events never
expire (MSC1763: retention is about messages; the room must stay valid).

A message may also carry, in its cleartext content (so it works beside the ciphertext of an
encrypted event), `org.matrix.self_destruct_after` (an absolute Unix time in ms) or
`org.matrix.self_destruct` (ms after the first read receipt of someone other than the sender
covers it). An event expires at the earliest of what applies to it.

`parse_*` functions are strict (a client's own event: invalid content is `M_BAD_JSON`);
`read_*` functions are lenient (an event already signed by some server: invalid values are
ignored, as if absent). `media_refs` lists the `mxc://` URIs an event's content names
(`url`, `thumbnail_url`, also inside encrypted attachments' `file` and `thumbnail_file`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from core.errors import M_BAD_JSON, MatrixError

__all__ = [
    "M_ROOM_RETENTION",
    "ROOM_EXPIRY",
    "SELF_DESTRUCT",
    "SELF_DESTRUCT_AFTER",
    "MediaRef",
    "RetentionLimits",
    "RetentionPolicy",
    "SelfDestruct",
    "check_self_destruct",
    "event_expiry",
    "media_refs",
    "parse_mxc",
    "parse_retention",
    "read_retention",
    "read_self_destruct",
]

M_ROOM_RETENTION: Final = "m.room.retention"
SELF_DESTRUCT_AFTER: Final = "org.matrix.self_destruct_after"
SELF_DESTRUCT: Final = "org.matrix.self_destruct"
ROOM_EXPIRY: Final = "org.matrix.room.expiry"
"""State event of a room the server will delete: `{"expires_at": UNIX_MS}` (clients show it)."""

MAX_LIFETIME_MS: Final = 2**53 - 1
"""The largest integer canonical JSON carries; lifetimes and times beyond it are refused."""

_MEDIA_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_SERVER: Final = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,255}$")
_URL_KEYS: Final = frozenset({"url", "thumbnail_url"})
_MAX_DEPTH: Final = 6
_MAX_REFS: Final = 32


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A room's `m.room.retention` content (None: not set)."""

    min_lifetime: int | None = None
    max_lifetime: int | None = None


@dataclass(frozen=True, slots=True)
class RetentionLimits:
    """The server's retention policy.

    Attributes:
        enabled: Whether retention applies at all (False: nothing expires by age).
        default_max_lifetime: For rooms whose policy sets no `max_lifetime`; None keeps forever.
        allowed_min: Room lifetimes below this are raised to it (None: no lower bound).
        allowed_max: Room lifetimes above this are lowered to it (None: no upper bound).
    """

    enabled: bool = True
    default_max_lifetime: int | None = None
    allowed_min: int | None = None
    allowed_max: int | None = None

    def clamp(self, lifetime: int) -> int:
        """`lifetime` moved into the allowed range."""
        if self.allowed_min is not None:
            lifetime = max(lifetime, self.allowed_min)
        if self.allowed_max is not None:
            lifetime = min(lifetime, self.allowed_max)
        return lifetime

    def max_lifetime(self, policy: RetentionPolicy | None) -> int | None:
        """How long messages of a room with `policy` live, in ms; None: forever."""
        if not self.enabled:
            return None
        chosen = policy.max_lifetime if policy is not None else None
        if chosen is None:
            chosen = self.default_max_lifetime
        if chosen is None:
            return None
        lifetime = self.clamp(chosen)
        if policy is not None and policy.min_lifetime is not None:
            lifetime = max(lifetime, self.clamp(policy.min_lifetime))
        return lifetime


@dataclass(frozen=True, slots=True)
class SelfDestruct:
    """A message's self-destruct fields (None: not set)."""

    at_ms: int | None = None
    after_read_ms: int | None = None

    @property
    def is_set(self) -> bool:
        """Whether either field is set."""
        return self.at_ms is not None or self.after_read_ms is not None


@dataclass(frozen=True, slots=True, order=True)
class MediaRef:
    """An `mxc://server/media_id` URI named by an event."""

    server_name: str
    media_id: str


def parse_retention(content: Mapping[str, Any]) -> RetentionPolicy:
    """The policy of an `m.room.retention` content a client wants to send.

    Raises:
        MatrixError: `M_BAD_JSON` when a lifetime is not a whole number of milliseconds from
            0 to 2**53-1, or `min_lifetime` is larger than `max_lifetime`.
    """
    values: dict[str, int | None] = {}
    for key in ("min_lifetime", "max_lifetime"):
        value = content.get(key)
        if value is not None and not _is_ms(value):
            raise MatrixError(M_BAD_JSON, f"{key} must be a whole number of milliseconds >= 0")
        values[key] = value
    low, high = values["min_lifetime"], values["max_lifetime"]
    if low is not None and high is not None and low > high:
        raise MatrixError(M_BAD_JSON, "min_lifetime must not be larger than max_lifetime")
    return RetentionPolicy(min_lifetime=low, max_lifetime=high)


def read_retention(content: Mapping[str, Any]) -> RetentionPolicy | None:
    """The policy of a stored `m.room.retention` content, or None if it is invalid."""
    try:
        return parse_retention(content)
    except MatrixError:
        return None


def check_self_destruct(content: Mapping[str, Any], *, is_state: bool) -> SelfDestruct:
    """The self-destruct fields of an event a client wants to send.

    Raises:
        MatrixError: `M_BAD_JSON` when `org.matrix.self_destruct_after` is not a Unix time in
            ms (0 to 2**53-1), `org.matrix.self_destruct` is not a positive number of ms, or a
            state event carries either (state never expires).
    """
    at, after = content.get(SELF_DESTRUCT_AFTER), content.get(SELF_DESTRUCT)
    if at is None and after is None:
        return SelfDestruct()
    if is_state:
        raise MatrixError(M_BAD_JSON, "state events cannot self-destruct")
    if at is not None and not _is_ms(at):
        raise MatrixError(M_BAD_JSON, f"{SELF_DESTRUCT_AFTER} must be a Unix time in ms")
    if after is not None and not (_is_ms(after) and after > 0):
        raise MatrixError(M_BAD_JSON, f"{SELF_DESTRUCT} must be a positive number of ms")
    return SelfDestruct(at_ms=at, after_read_ms=after)


def read_self_destruct(raw: Mapping[str, Any]) -> SelfDestruct:
    """The valid self-destruct fields of a stored event (`raw` is the whole event)."""
    content = raw.get("content")
    if not isinstance(content, Mapping) or "state_key" in raw:
        return SelfDestruct()
    at, after = content.get(SELF_DESTRUCT_AFTER), content.get(SELF_DESTRUCT)
    return SelfDestruct(
        at_ms=at if _is_ms(at) else None,
        after_read_ms=after if _is_ms(after) and after > 0 else None,
    )


def event_expiry(
    raw: Mapping[str, Any], max_lifetime: int | None, read_ts: int | None = None
) -> int | None:
    """When a stored event expires (Unix ms), or None if it never does.

    Args:
        raw: The event.
        max_lifetime: Its room's lifetime (`RetentionLimits.max_lifetime`), None: forever.
        read_ts: When a read receipt of someone other than the sender first covered it.
    """
    if "state_key" in raw:
        return None
    times: list[int] = []
    ts = raw.get("origin_server_ts")
    if max_lifetime is not None and type(ts) is int:
        times.append(ts + max_lifetime)
    fields = read_self_destruct(raw)
    if fields.at_ms is not None:
        times.append(fields.at_ms)
    if fields.after_read_ms is not None and read_ts is not None:
        times.append(read_ts + fields.after_read_ms)
    return min(times) if times else None


def media_refs(content: object) -> list[MediaRef]:
    """The well-formed `mxc://` URIs under `url` or `thumbnail_url` keys anywhere in an
    event's content (attachments, their thumbnails, encrypted `file` objects), sorted, at
    most 32."""
    found: set[MediaRef] = set()
    _walk(content, found, 0)
    return sorted(found)[:_MAX_REFS]


def parse_mxc(value: str) -> MediaRef | None:
    """`mxc://server/media_id` as a `MediaRef`, or None if it is not one."""
    if not value.startswith("mxc://"):
        return None
    server, _, media_id = value[len("mxc://") :].partition("/")
    if not _SERVER.match(server) or not _MEDIA_ID.match(media_id):
        return None
    return MediaRef(server, media_id)


def _walk(value: object, found: set[MediaRef], depth: int) -> None:
    if depth > _MAX_DEPTH or len(found) >= _MAX_REFS:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _URL_KEYS and isinstance(item, str):
                ref = parse_mxc(item)
                if ref is not None:
                    found.add(ref)
            else:
                _walk(item, found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, found, depth + 1)


def _is_ms(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= MAX_LIFETIME_MS

"""The body of `POST /search` and its `next_batch` tokens, validated (spec: "Server Side Search").

`parse_search_body` turns the client's JSON into `RoomEventsCriteria`, refusing every malformed
part with a 400: `M_MISSING_PARAM` for a missing `search_categories` or `search_term`,
`M_BAD_JSON` for a value of the wrong JSON type (the filter's own checks included),
`M_INVALID_PARAM` for a value outside what the spec allows (an unknown key, order or grouping,
a negative context limit, more than `MAX_LIST` entries in a filter list).

A `next_batch` token is opaque to clients: URL-safe Base64 of a small JSON object holding the
order it belongs to, the `(score, stream ordering)` of the last result handed out, and the group
(`room_id` or `sender` and its value) when it continues one group. A token that does not decode,
or belongs to another order, is `M_INVALID_PARAM`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.errors import M_BAD_JSON, M_INVALID_PARAM, M_MISSING_PARAM, JsonDict, MatrixError
from core.filters import EventFilter
from core.search_text import SEARCH_KEYS

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_LIMIT",
    "GROUP_KEYS",
    "MAX_CONTEXT",
    "MAX_LIMIT",
    "MAX_LIST",
    "Cursor",
    "EventContextCriteria",
    "RoomEventsCriteria",
    "decode_cursor",
    "encode_cursor",
    "parse_search_body",
]

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 100
DEFAULT_CONTEXT: Final = 5
MAX_CONTEXT: Final = 50
MAX_LIST: Final = 5000
GROUP_KEYS: Final = ("room_id", "sender")
_ORDERS: Final = ("rank", "recent")
_MAX_TOKEN: Final = 2048


@dataclass(frozen=True, slots=True)
class EventContextCriteria:
    """`event_context`: how many events around each result, and the senders' profiles."""

    before_limit: int = DEFAULT_CONTEXT
    after_limit: int = DEFAULT_CONTEXT
    include_profile: bool = False


@dataclass(frozen=True, slots=True)
class RoomEventsCriteria:
    """The `room_events` category of a search.

    Attributes:
        search_term: What to look for.
        keys: The searched keys (`content.body`, `content.name`, `content.topic`).
        event_filter: The `RoomEventFilter` (its `limit` is the page size).
        recent: `order_by` is `recent` (else `rank`).
        context: Events around each result, if asked for.
        include_state: Return the current state of each room with results.
        group_by: The requested groupings, in order.
    """

    search_term: str
    keys: tuple[str, ...] = tuple(SEARCH_KEYS)
    event_filter: EventFilter = field(default_factory=EventFilter)
    recent: bool = False
    context: EventContextCriteria | None = None
    include_state: bool = False
    group_by: tuple[str, ...] = ()

    @property
    def limit(self) -> int:
        """The page size: the filter's `limit`, `DEFAULT_LIMIT` if absent, at most `MAX_LIMIT`."""
        limit = self.event_filter.limit
        return DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: after `(score, stream_ordering)`, within `group` if set."""

    recent: bool
    score: float
    stream_ordering: int
    group: tuple[str, str] | None = None


def parse_search_body(body: JsonDict) -> RoomEventsCriteria | None:
    """The `room_events` criteria of a `/search` body, or None if that category is absent.

    Raises:
        MatrixError: 400 with the errcode the module docstring lists.
    """
    if "search_categories" not in body:
        raise MatrixError(M_MISSING_PARAM, "Missing search_categories")
    categories = _object(body, "search_categories")
    if "room_events" not in categories:
        return None
    criteria = _object(categories, "room_events")
    if "search_term" not in criteria:
        raise MatrixError(M_MISSING_PARAM, "Missing search_term")
    term = criteria["search_term"]
    if not isinstance(term, str):
        raise MatrixError(M_BAD_JSON, "search_term must be a string")
    order = criteria.get("order_by", "rank")
    if not isinstance(order, str):
        raise MatrixError(M_BAD_JSON, "order_by must be a string")
    if order not in _ORDERS:
        raise MatrixError(M_INVALID_PARAM, "order_by must be 'rank' or 'recent'")
    return RoomEventsCriteria(
        search_term=term,
        keys=_keys(criteria),
        event_filter=_filter(criteria),
        recent=order == "recent",
        context=_context(criteria),
        include_state=_bool(criteria, "include_state"),
        group_by=_groupings(criteria),
    )


def _object(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise MatrixError(M_BAD_JSON, f"{key} must be an object")
    return value


def _bool(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise MatrixError(M_BAD_JSON, f"{key} must be a boolean")
    return value


def _keys(criteria: Mapping[str, Any]) -> tuple[str, ...]:
    keys = criteria.get("keys")
    if keys is None:
        return tuple(SEARCH_KEYS)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise MatrixError(M_BAD_JSON, "keys must be a list of strings")
    unknown = sorted(set(keys) - set(SEARCH_KEYS))
    if unknown:
        raise MatrixError(M_INVALID_PARAM, f"keys: {unknown[0]!r} cannot be searched")
    return tuple(dict.fromkeys(keys))


def _filter(criteria: Mapping[str, Any]) -> EventFilter:
    parsed = EventFilter.parse(_object(criteria, "filter"))
    lists = (parsed.types, parsed.not_types, parsed.rooms, parsed.not_rooms)
    if any(len(values or ()) > MAX_LIST for values in (*lists, parsed.senders, parsed.not_senders)):
        raise MatrixError(M_INVALID_PARAM, f"filter lists may hold at most {MAX_LIST} entries")
    return parsed


def _context(criteria: Mapping[str, Any]) -> EventContextCriteria | None:
    if "event_context" not in criteria:
        return None
    context = _object(criteria, "event_context")
    limits = []
    for key in ("before_limit", "after_limit"):
        value = context.get(key, DEFAULT_CONTEXT)
        if not isinstance(value, int) or isinstance(value, bool):
            raise MatrixError(M_BAD_JSON, f"event_context.{key} must be an integer")
        if value < 0:
            raise MatrixError(M_INVALID_PARAM, f"event_context.{key} must not be negative")
        limits.append(min(value, MAX_CONTEXT))
    return EventContextCriteria(limits[0], limits[1], _bool(context, "include_profile"))


def _groupings(criteria: Mapping[str, Any]) -> tuple[str, ...]:
    groupings = _object(criteria, "groupings")
    group_by = groupings.get("group_by", [])
    if not isinstance(group_by, list):
        raise MatrixError(M_BAD_JSON, "groupings.group_by must be a list")
    keys: list[str] = []
    for group in group_by:
        if not isinstance(group, dict) or not isinstance(group.get("key"), str):
            raise MatrixError(M_BAD_JSON, "each grouping must be an object with a string key")
        if group["key"] not in GROUP_KEYS:
            raise MatrixError(M_INVALID_PARAM, "groupings can be by room_id or sender")
        keys.append(group["key"])
    return tuple(dict.fromkeys(keys))


def encode_cursor(cursor: Cursor) -> str:
    """The `next_batch` token of `cursor`."""
    value: JsonDict = {
        "o": "recent" if cursor.recent else "rank",
        "s": cursor.score,
        "p": cursor.stream_ordering,
    }
    if cursor.group is not None:
        value["g"] = list(cursor.group)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str, *, recent: bool) -> Cursor:
    """The cursor a `next_batch` token holds, checked against the request's order.

    Raises:
        MatrixError: `M_INVALID_PARAM` for a token this server did not make for this order.
    """
    invalid = MatrixError(M_INVALID_PARAM, "Invalid next_batch token")
    if len(token) > _MAX_TOKEN:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw.decode())
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(value, dict) or value.get("o") != ("recent" if recent else "rank"):
        raise invalid
    score, position, group = value.get("s"), value.get("p"), value.get("g")
    if isinstance(score, int) and not isinstance(score, bool) and abs(score) < 2**63:
        score = float(score)
    if not isinstance(score, float) or not math.isfinite(score):
        raise invalid
    if isinstance(position, bool) or not isinstance(position, int) or abs(position) >= 2**63:
        raise invalid
    if group is not None and not (
        isinstance(group, list)
        and len(group) == 2
        and group[0] in GROUP_KEYS
        and isinstance(group[1], str)
    ):
        raise invalid
    return Cursor(recent, score, position, (group[0], group[1]) if group else None)

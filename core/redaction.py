"""The redaction algorithm (room versions 10, 11 and 12, spec "Redactions" per room version).

Redaction decides what event hashing and signing cover (reference hash, event signatures) and
what is left of an event after an `m.room.redaction`. It is read from `RoomVersion` flags:

- `updated_redaction_rules` (v11, unchanged in v12): top-level `origin`, `membership` and
  `prev_state` are no longer kept; `m.room.create` keeps all of its content; power levels
  keep `invite`; `m.room.redaction` keeps `content.redacts`; `m.room.member` keeps only
  `signed` of `third_party_invite`.
- `restricted_join_authorised_via` (v9+): membership keeps `join_authorised_via_users_server`.
- `restricted_join_rule` (v8+): join rules keep `allow`.
- `special_case_aliases_auth` (v1-5): `m.room.aliases` keeps `aliases`.

`unsigned` is not in the spec's list of kept keys, so `redact` drops it, which is what hashing
and signing need. A server serving a redacted event to clients re-adds what belongs there
(`redacted_because`, `age`, …) itself; that is presentation, not this algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.errors import JsonDict
from core.event_types import (
    M_ROOM_ALIASES,
    M_ROOM_CREATE,
    M_ROOM_HISTORY_VISIBILITY,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_POWER_LEVELS,
    M_ROOM_REDACTION,
)
from core.room_versions import RoomVersion

__all__ = ["redact"]

_KEPT_TOP_LEVEL: Final = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "auth_events",
        "origin_server_ts",
    }
)
# Kept before room version 11 only.
_KEPT_TOP_LEVEL_LEGACY: Final = frozenset({"prev_state", "origin", "membership"})

_POWER_LEVELS_KEYS: Final = (
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
)


def redact(event: JsonDict, room_version: RoomVersion) -> JsonDict:
    """Strip `event` down to what the redaction algorithm of `room_version` keeps.

    Args:
        event: A PDU in federation format; not modified.
        room_version: The version of the event's room.

    Returns:
        A new dict. Values that are kept are shared with `event`, not copied. A `content` that
        is present but not an object becomes `{}` (such a PDU fails `check_pdu_format` anyway).
        Redacting a redacted event changes nothing.
    """
    kept = _KEPT_TOP_LEVEL
    if not room_version.updated_redaction_rules:
        kept = kept | _KEPT_TOP_LEVEL_LEGACY
    redacted = {key: value for key, value in event.items() if key in kept}
    if "content" in event:
        content = event["content"]
        event_type = event.get("type")
        redacted["content"] = (
            _redact_content(event_type, content, room_version)
            if isinstance(content, dict) and isinstance(event_type, str)
            else {}
        )
    return redacted


def _redact_content(event_type: str, content: JsonDict, version: RoomVersion) -> JsonDict:
    v11 = version.updated_redaction_rules
    if event_type == M_ROOM_MEMBER:
        kept = _pick(content, "membership")
        if version.restricted_join_authorised_via:
            kept |= _pick(content, "join_authorised_via_users_server")
        invite = content.get("third_party_invite")
        if v11 and isinstance(invite, dict):
            # v11 keeps the object itself even when it lacks `signed`, as Synapse does.
            kept["third_party_invite"] = _pick(invite, "signed")
        return kept
    if event_type == M_ROOM_CREATE:
        if v11:
            return dict(content)
        return _pick(content, "creator")
    if event_type == M_ROOM_JOIN_RULES:
        if version.restricted_join_rule:
            return _pick(content, "join_rule", "allow")
        return _pick(content, "join_rule")
    if event_type == M_ROOM_POWER_LEVELS:
        if v11:
            return _pick(content, *_POWER_LEVELS_KEYS, "invite")
        return _pick(content, *_POWER_LEVELS_KEYS)
    if event_type == M_ROOM_HISTORY_VISIBILITY:
        return _pick(content, "history_visibility")
    if event_type == M_ROOM_ALIASES and version.special_case_aliases_auth:
        return _pick(content, "aliases")
    if event_type == M_ROOM_REDACTION and v11:
        return _pick(content, "redacts")
    return {}


def _pick(source: Mapping[str, Any], *keys: str) -> JsonDict:
    return {key: source[key] for key in keys if key in source}

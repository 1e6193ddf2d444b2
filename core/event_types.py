"""Event type names and membership values, spelled once for every package.

Plain `Final` strings rather than an enum: they travel inside raw event dicts and canonical
JSON, which must hold exact `str` values, and they compare with what arrives over the wire.
Only names the code itself reads or writes are here; the spec defines many more.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "M_ROOM_ALIASES",
    "M_ROOM_AVATAR",
    "M_ROOM_CANONICAL_ALIAS",
    "M_ROOM_CREATE",
    "M_ROOM_ENCRYPTED",
    "M_ROOM_ENCRYPTION",
    "M_ROOM_GUEST_ACCESS",
    "M_ROOM_HISTORY_VISIBILITY",
    "M_ROOM_JOIN_RULES",
    "M_ROOM_MEMBER",
    "M_ROOM_MESSAGE",
    "M_ROOM_NAME",
    "M_ROOM_POWER_LEVELS",
    "M_ROOM_REDACTION",
    "M_ROOM_SERVER_ACL",
    "M_ROOM_THIRD_PARTY_INVITE",
    "M_ROOM_TOMBSTONE",
    "M_ROOM_TOPIC",
    "JoinRule",
    "Membership",
]

# Room state and timeline event types.
M_ROOM_ALIASES: Final = "m.room.aliases"
M_ROOM_AVATAR: Final = "m.room.avatar"
M_ROOM_CANONICAL_ALIAS: Final = "m.room.canonical_alias"
M_ROOM_CREATE: Final = "m.room.create"
M_ROOM_ENCRYPTED: Final = "m.room.encrypted"
M_ROOM_ENCRYPTION: Final = "m.room.encryption"
M_ROOM_GUEST_ACCESS: Final = "m.room.guest_access"
M_ROOM_HISTORY_VISIBILITY: Final = "m.room.history_visibility"
M_ROOM_JOIN_RULES: Final = "m.room.join_rules"
M_ROOM_MEMBER: Final = "m.room.member"
M_ROOM_MESSAGE: Final = "m.room.message"
M_ROOM_NAME: Final = "m.room.name"
M_ROOM_POWER_LEVELS: Final = "m.room.power_levels"
M_ROOM_REDACTION: Final = "m.room.redaction"
M_ROOM_SERVER_ACL: Final = "m.room.server_acl"
M_ROOM_THIRD_PARTY_INVITE: Final = "m.room.third_party_invite"
M_ROOM_TOMBSTONE: Final = "m.room.tombstone"
M_ROOM_TOPIC: Final = "m.room.topic"


class Membership:
    """The `membership` values of `m.room.member` content (a namespace, never instantiated)."""

    JOIN: Final = "join"
    INVITE: Final = "invite"
    KNOCK: Final = "knock"
    LEAVE: Final = "leave"
    BAN: Final = "ban"

    ALL: Final = (JOIN, INVITE, KNOCK, LEAVE, BAN)
    """Every value."""


class JoinRule:
    """The `join_rule` values of `m.room.join_rules` content (a namespace, never instantiated)."""

    PUBLIC: Final = "public"
    INVITE: Final = "invite"
    KNOCK: Final = "knock"
    RESTRICTED: Final = "restricted"
    KNOCK_RESTRICTED: Final = "knock_restricted"
    PRIVATE: Final = "private"

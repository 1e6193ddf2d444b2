"""Queries of the public room directory (`/publicRooms`) and the user directory.

Both read the `room_summary` table (`summary.py`): one row per room with the string fields of
its current state (name, topic, canonical alias, join rule, …), written with the current state
itself, so it never goes stale; membership and profile changes are visible to the next query as
soon as they are committed.

The room list's free-text fields are sealed at rest, so its search term is matched here, after
they are opened (case-insensitively, with `str.casefold`), not in SQL. User searches use
`LOWER(column) LIKE LOWER(pattern)` with `\\` as the escape character, so a search term's own
`%`, `_` and `\\` match literally. The same SQL text runs on both backends; `LOWER` folds ASCII
on SQLite and follows the database locale on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.identifiers import RoomId, UserId
from homeserver.storage.database import Database, Row
from homeserver.storage.sealing import ROOM_SUMMARY_FIELDS, Sealer

# Rooms the directory may list: published ones people can join or knock on, or read without
# joining, with somebody in them (Synapse lists the same set).
_LISTED_ROOMS = (
    "SELECT s.room_id, s.name, s.topic, s.canonical_alias, s.avatar_url, s.join_rule,"
    " s.history_visibility, s.guest_access, s.room_type,"
    " (SELECT COUNT(*) FROM memberships m"
    "  WHERE m.room_id = s.room_id AND m.membership = 'join') AS joined_members"
    " FROM rooms r JOIN room_summary s ON s.room_id = r.room_id"
    " WHERE r.is_public = 1"
    " AND (s.join_rule IN ('public', 'knock', 'knock_restricted')"
    " OR s.history_visibility = 'world_readable')"
)

# A user in a room that is publicly joinable or world-readable, or one sharing a room with
# the searcher, may be found (the spec's minimum, and Synapse's default).
_VISIBLE_USER = (
    "((c.user_id <> $1 AND EXISTS (SELECT 1 FROM memberships mine"
    "   JOIN memberships theirs ON theirs.room_id = mine.room_id"
    "   WHERE mine.user_id = $1 AND mine.membership = 'join'"
    "   AND theirs.user_id = c.user_id AND theirs.membership = 'join'))"
    " OR EXISTS (SELECT 1 FROM memberships theirs"
    "   JOIN room_summary s ON s.room_id = theirs.room_id"
    "   WHERE theirs.user_id = c.user_id AND theirs.membership = 'join'"
    "   AND (s.join_rule = 'public' OR s.history_visibility = 'world_readable')))"
)

MAX_SEARCH_WORDS = 10


@dataclass(frozen=True, slots=True)
class PublicRoom:
    """A listed room with the state fields its directory entry shows."""

    room_id: RoomId
    joined_members: int
    name: str | None
    topic: str | None
    canonical_alias: str | None
    avatar_url: str | None
    join_rule: str | None
    history_visibility: str | None
    guest_access: str | None
    room_type: str | None


@dataclass(frozen=True, slots=True)
class RoomListBound:
    """A position in the directory's order (most joined members first, then room ID).

    Decoded from a client's page token, so `room_id` is only compared as an order bound.
    """

    joined_members: int
    room_id: str


@dataclass(frozen=True, slots=True)
class RoomListFilter:
    """Which listed rooms a query wants.

    Attributes:
        search_term: Matched case-insensitively inside name, topic or canonical alias.
        room_types: Room types to keep (None in it keeps rooms without a type); None keeps all.
    """

    search_term: str | None = None
    room_types: tuple[str | None, ...] | None = None


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user found by a user directory search."""

    user_id: UserId
    display_name: str | None
    avatar_url: str | None


def like_pattern(text: str, *, prefix: str = "%", suffix: str = "%") -> str:
    """A LIKE pattern matching `text` literally (escape character `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{prefix}{escaped}{suffix}"


class _Args:
    """Collects query arguments and hands out their `$n` placeholders."""

    __slots__ = ("values",)

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


class DirectoryStore:
    """Reads the room directory (its sealed fields opened with `sealer`) and the user
    directory."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def public_rooms(
        self,
        room_filter: RoomListFilter,
        bound: RoomListBound | None,
        forward: bool,
        limit: int,
    ) -> list[PublicRoom]:
        """Listed rooms in directory order, starting next to `bound`.

        Args:
            room_filter: Which rooms to keep.
            bound: Start strictly after (`forward`) or before (backward) this position;
                None starts at the beginning.
            forward: The direction; backward results come nearest-to-`bound` first.
            limit: The most rows to return.
        """
        args = _Args()
        conditions = ["listed.joined_members > 0", *_type_conditions(room_filter, args)]
        if bound is not None:
            members, room_id = args.add(bound.joined_members), args.add(bound.room_id)
            before, after = ("<", ">") if forward else (">", "<")
            conditions.append(
                f"(listed.joined_members {before} {members} OR"
                f" (listed.joined_members = {members} AND listed.room_id {after} {room_id}))"
            )
        order = "DESC, listed.room_id ASC" if forward else "ASC, listed.room_id DESC"
        term = room_filter.search_term
        sql = (
            f"SELECT * FROM ({_LISTED_ROOMS}) listed WHERE {' AND '.join(conditions)}"  # noqa: S608
            f" ORDER BY listed.joined_members {order}"
        )
        if not term:
            sql += f" LIMIT {args.add(limit)}"
        rooms: list[PublicRoom] = []
        for row in await self._db.fetch_all(sql, *args.values):
            room = _public_room(row, self._sealer)
            if not term or _matches(room, term):
                rooms.append(room)
                if len(rooms) == limit:
                    break
        return rooms

    async def count_public_rooms(self) -> int:
        """How many rooms the directory lists, before any filter."""
        sql = f"SELECT COUNT(*) FROM ({_LISTED_ROOMS}) listed WHERE listed.joined_members > 0"  # noqa: S608
        return int(await self._db.fetch_val(sql) or 0)

    async def history_visibility(self, room_id: RoomId) -> str | None:
        """The room's current `history_visibility`, or None if it has none."""
        value = await self._db.fetch_val(
            "SELECT history_visibility FROM room_summary WHERE room_id = $1", room_id
        )
        return str(value) if value is not None else None

    async def search_users(self, searcher: UserId, term: str, limit: int) -> list[DirectoryUser]:
        """Users `searcher` may find whose user ID or display name matches every word of `term`.

        Exact matches of the whole term (display name, user ID or localpart) rank first, then
        prefix matches, then users with a display name and an avatar.
        """
        words = term.split()[:MAX_SEARCH_WORDS]
        if not words:
            return []
        whole = " ".join(words)
        args = _Args(searcher)
        matches = []
        for word in words:
            pattern = args.add(like_pattern(word))
            matches.append(
                f"(LOWER(m.user_id) LIKE LOWER({pattern}) ESCAPE '\\'"
                f" OR LOWER(p.displayname) LIKE LOWER({pattern}) ESCAPE '\\')"
            )
        exact, localpart = args.add(whole), args.add(like_pattern(whole, prefix="@", suffix=":%"))
        name_prefix = args.add(like_pattern(whole, prefix=""))
        id_prefix = args.add(like_pattern(whole, prefix="@"))
        sql = (
            "WITH c AS (SELECT DISTINCT m.user_id, p.displayname, p.avatar_url"  # noqa: S608
            " FROM memberships m LEFT JOIN profiles p ON p.user_id = m.user_id"
            " LEFT JOIN users u ON u.user_id = m.user_id"
            " WHERE m.membership = 'join' AND (u.deactivated IS NULL OR u.deactivated = 0)"
            f" AND {' AND '.join(matches)})"
            f" SELECT c.user_id, c.displayname, c.avatar_url FROM c WHERE {_VISIBLE_USER}"
            " ORDER BY CASE"
            f"  WHEN LOWER(c.displayname) = LOWER({exact}) OR LOWER(c.user_id) = LOWER({exact})"
            f"   OR LOWER(c.user_id) LIKE LOWER({localpart}) ESCAPE '\\' THEN 0"
            f"  WHEN LOWER(c.displayname) LIKE LOWER({name_prefix}) ESCAPE '\\'"
            f"   OR LOWER(c.user_id) LIKE LOWER({id_prefix}) ESCAPE '\\' THEN 1"
            "  ELSE 2 END,"
            " CASE WHEN c.displayname IS NULL THEN 1 ELSE 0 END,"
            " CASE WHEN c.avatar_url IS NULL THEN 1 ELSE 0 END,"
            f" c.user_id LIMIT {args.add(limit)}"
        )
        rows = await self._db.fetch_all(sql, *args.values)
        return [
            DirectoryUser(UserId(r["user_id"]), r["displayname"], r["avatar_url"]) for r in rows
        ]


def _type_conditions(room_filter: RoomListFilter, args: _Args) -> Sequence[str]:
    conditions = []
    if room_filter.room_types:
        wanted = [args.add(t) for t in room_filter.room_types if t is not None]
        alternatives = [f"listed.room_type IN ({', '.join(wanted)})"] if wanted else []
        if None in room_filter.room_types:
            alternatives.append("listed.room_type IS NULL")
        conditions.append(f"({' OR '.join(alternatives)})")
    return conditions


def _matches(room: PublicRoom, term: str) -> bool:
    """Whether the name, topic or canonical alias contains `term`, ignoring case."""
    wanted = term.casefold()
    return any(
        value is not None and wanted in value.casefold()
        for value in (room.name, room.topic, room.canonical_alias)
    )


def _public_room(row: Row, sealer: Sealer) -> PublicRoom:
    room_id = RoomId(row["room_id"])

    def opened(column: str) -> str | None:
        return sealer.open(ROOM_SUMMARY_FIELDS[column], (room_id,), row[column])

    return PublicRoom(
        room_id=room_id,
        joined_members=int(row["joined_members"]),
        name=opened("name"),
        topic=opened("topic"),
        canonical_alias=opened("canonical_alias"),
        avatar_url=opened("avatar_url"),
        join_rule=row["join_rule"],
        history_visibility=row["history_visibility"],
        guest_access=row["guest_access"],
        room_type=row["room_type"],
    )

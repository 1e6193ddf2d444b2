"""The public room directory (spec: `GET`/`POST /publicRooms`).

Rooms are ordered by joined members, most first, then by room ID. A pagination token names
the edge of the page it came from (member count and room ID) and a direction, so paging is
keyset-based: a room that joins, leaves or changes size while a client pages never shifts
the other rooms between pages. As in Synapse, a page reached through a token always offers
the token back in the other direction.

A `server` other than ours is asked over federation (`RemoteRoomDirectory`, wired when
federation is on) and its answer passed on as it checks out; other servers ask ours through
the same service, with no `server`. Application-service networks do not exist here, so a
`third_party_instance_id` lists nothing.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Protocol

from core.errors import M_INVALID_PARAM, JsonDict, MatrixError
from homeserver.storage.rooms.directory import (
    DirectoryStore,
    PublicRoom,
    RoomListBound,
    RoomListFilter,
)

# The largest page served, also when a client gives no limit (or 0, as Synapse reads it).
MAX_LIMIT = 500
# Longer terms are refused: no room name is that long, and SQLite refuses LIKE patterns over
# 50,000 bytes.
MAX_SEARCH_TERM_LENGTH = 1_000


@dataclass(frozen=True, slots=True)
class RoomListRequest:
    """A validated `/publicRooms` query (query parameters or body)."""

    limit: int | None = None
    since: str | None = None
    server: str | None = None
    search_term: str | None = None
    room_types: tuple[str | None, ...] | None = None
    include_all_networks: bool = False
    third_party_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class PageToken:
    """Where a page starts: next to `bound`, going `forward` or backward."""

    bound: RoomListBound
    forward: bool

    def encode(self) -> str:
        """The opaque token given to clients."""
        raw = f"{'f' if self.forward else 'b'}|{self.bound.joined_members}|{self.bound.room_id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PageToken:
        """Parse a client's token; `M_INVALID_PARAM` if it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            direction, members, room_id = raw.split("|", 2)
            count = int(members)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise MatrixError(M_INVALID_PARAM, "Invalid since token") from exc
        if direction not in ("f", "b") or count < 0 or not room_id.startswith("!"):
            raise MatrixError(M_INVALID_PARAM, "Invalid since token")
        return cls(RoomListBound(count, room_id), direction == "f")


class RemoteRoomDirectory(Protocol):
    """Asks another server for a page of its public room directory."""

    async def public_rooms(self, server: str, request: RoomListRequest) -> JsonDict:
        """The server's answer, checked (`M_INVALID_PARAM` for a bad server name, 502 when
        it cannot be asked)."""
        ...


class RoomListService:
    """Serves the local public room directory, and other servers' through federation."""

    def __init__(
        self,
        *,
        server_name: str,
        store: DirectoryStore,
        remote: RemoteRoomDirectory | None = None,
    ) -> None:
        self._server_name = server_name
        self._store = store
        self._remote = remote

    def is_remote(self, request: RoomListRequest) -> bool:
        """Whether `request` names another server's directory."""
        return request.server is not None and request.server != self._server_name

    async def public_rooms(self, request: RoomListRequest) -> JsonDict:
        """One page of the directory: `chunk`, `next_batch`, `prev_batch`, and a total.

        Raises:
            MatrixError: `M_INVALID_PARAM` for another server when federation is off, a bad
                token or limit, or `include_all_networks` together with
                `third_party_instance_id`; 502 when another server cannot be asked.
        """
        if request.include_all_networks and request.third_party_instance_id is not None:
            raise MatrixError(
                M_INVALID_PARAM, "include_all_networks cannot go with third_party_instance_id"
            )
        if request.limit is not None and request.limit < 0:
            raise MatrixError(M_INVALID_PARAM, "limit must not be negative")
        if len(request.search_term or "") > MAX_SEARCH_TERM_LENGTH:
            raise MatrixError(
                M_INVALID_PARAM, f"generic_search_term is longer than {MAX_SEARCH_TERM_LENGTH}"
            )
        if request.server is not None and self.is_remote(request):
            if self._remote is None:
                raise MatrixError(M_INVALID_PARAM, "Other servers' directories are not reachable")
            return await self._remote.public_rooms(request.server, request)
        token = PageToken.decode(request.since) if request.since else None
        total = await self._store.count_public_rooms()
        if request.third_party_instance_id is not None:
            return {"chunk": [], "total_room_count_estimate": total}
        limit = min(request.limit or MAX_LIMIT, MAX_LIMIT)
        forward = token is None or token.forward
        room_filter = RoomListFilter(
            search_term=(request.search_term or "").strip() or None,
            room_types=request.room_types,
        )
        rows = await self._store.public_rooms(
            room_filter, token.bound if token else None, forward, limit + 1
        )
        more = len(rows) > limit
        rows = rows[:limit] if forward else rows[:limit][::-1]
        body: JsonDict = {"chunk": [_entry(room) for room in rows]}
        if rows:
            first, last = _bound(rows[0]), _bound(rows[-1])
            has_next = more if forward else token is not None
            has_prev = token is not None if forward else more
            if has_next:
                body["next_batch"] = PageToken(last, True).encode()
            if has_prev:
                body["prev_batch"] = PageToken(first, False).encode()
        body["total_room_count_estimate"] = total
        return body


def _bound(room: PublicRoom) -> RoomListBound:
    return RoomListBound(room.joined_members, room.room_id)


def _entry(room: PublicRoom) -> JsonDict:
    """A `PublicRoomsChunk`: required fields always, optional ones only when set."""
    entry: JsonDict = {
        "room_id": room.room_id,
        "num_joined_members": room.joined_members,
        "world_readable": room.history_visibility == "world_readable",
        "guest_can_join": room.guest_access == "can_join",
    }
    optional = {
        "name": room.name,
        "topic": room.topic,
        "canonical_alias": room.canonical_alias,
        "avatar_url": room.avatar_url,
        "join_rule": room.join_rule,
        "room_type": room.room_type,
    }
    entry.update({key: value for key, value in optional.items() if value is not None})
    return entry

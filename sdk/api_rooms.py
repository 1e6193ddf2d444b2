"""Rooms, membership, room history, state and profile calls of `AsyncClient`.

Thin: each method builds its request with `sdk.requests`, sends it and parses the answer with
`sdk.responses`. Sending messages (which may need encryption) lives in `sdk.client`.
"""

from __future__ import annotations

from core.errors import JsonDict
from core.event_types import M_ROOM_ENCRYPTION
from sdk import requests
from sdk.api_base import ClientBase
from sdk.requests import Direction
from sdk.responses import MessagesResponse, parse_event_id, parse_messages, parse_room_id

__all__ = ["RoomsApi"]


class RoomsApi(ClientBase):
    """Room methods (mixed into `AsyncClient`)."""

    async def create_room(
        self,
        *,
        name: str | None = None,
        topic: str | None = None,
        preset: str | None = None,
        visibility: str | None = None,
        is_direct: bool = False,
        invite: list[str] | tuple[str, ...] = (),
        room_alias_name: str | None = None,
        room_version: str | None = None,
        initial_state: list[JsonDict] | tuple[JsonDict, ...] = (),
        encrypted: bool = False,
        extra: JsonDict | None = None,
    ) -> str:
        """Create a room and return its ID.

        Args:
            name: The room name.
            topic: The room topic.
            preset: `private_chat`, `trusted_private_chat` or `public_chat`.
            visibility: `public` to list it in the room directory.
            is_direct: Mark the invites as a direct chat.
            invite: User IDs to invite.
            room_alias_name: Local part of an alias to create.
            room_version: A room version, else the server's default.
            initial_state: State events to add (`type`, `state_key`, `content`).
            encrypted: Add `m.room.encryption` with `m.megolm.v1.aes-sha2`.
            extra: Further body fields, e.g. `power_level_content_override`.
        """
        state = list(initial_state)
        if encrypted:
            state.append(
                {
                    "type": M_ROOM_ENCRYPTION,
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            )
        request = requests.create_room(
            name=name,
            topic=topic,
            preset=preset,
            visibility=visibility,
            is_direct=is_direct,
            invite=tuple(invite),
            room_alias_name=room_alias_name,
            room_version=room_version,
            initial_state=tuple(state),
            extra=extra,
        )
        return parse_room_id(await self._http.json(request))

    async def join(self, room_id_or_alias: str, *, via: tuple[str, ...] = ()) -> str:
        """Join a room by ID or alias (accepting an invite); return the room ID."""
        return parse_room_id(await self._http.json(requests.join(room_id_or_alias, via=via)))

    async def leave(self, room_id: str, *, reason: str | None = None) -> None:
        """Leave a room (or reject an invite)."""
        await self._http.json(requests.leave(room_id, reason=reason))

    async def invite(self, room_id: str, user_id: str, *, reason: str | None = None) -> None:
        """Invite a user to a room."""
        await self._http.json(requests.invite(room_id, user_id, reason=reason))

    async def joined_rooms(self) -> list[str]:
        """The IDs of the rooms we are joined to, per the server."""
        body = await self._http.json(requests.build("joined_rooms"))
        rooms = body.get("joined_rooms")
        return [r for r in rooms if isinstance(r, str)] if isinstance(rooms, list) else []

    async def room_messages(
        self,
        room_id: str,
        start: str | None = None,
        *,
        direction: Direction = "b",
        limit: int | None = None,
        to: str | None = None,
        event_filter: str | None = None,
    ) -> MessagesResponse:
        """One page of room history; pass the page's `end` as the next `start`.

        Encrypted events come back as `m.room.encrypted`; decrypt them with
        `AsyncClient.decrypt_event`.

        Args:
            room_id: The room.
            start: The token to start from (a sync's `prev_batch`, a previous page's `end`);
                None starts at the live end going back, or at the beginning going forward.
            direction: `b` (back in time) or `f`.
            limit: The most events to return.
            to: A token to stop at.
            event_filter: A JSON `RoomEventFilter`.
        """
        request = requests.messages(
            room_id,
            start=start,
            direction=direction,
            limit=limit,
            to=to,
            event_filter=event_filter,
        )
        return parse_messages(await self._http.json(request), room_id)

    async def get_state_event(self, room_id: str, event_type: str, state_key: str = "") -> JsonDict:
        """The content of a current state event.

        Raises:
            NotFoundError: There is no such state event.
        """
        return await self._http.json(requests.get_state_event(room_id, event_type, state_key))

    async def get_state(self, room_id: str) -> list[JsonDict]:
        """Every current state event of a room, in the client format."""
        body = await self._http.json_list(requests.get_state(room_id))
        return [e for e in body if isinstance(e, dict)]

    async def put_state(
        self, room_id: str, event_type: str, content: JsonDict, state_key: str = ""
    ) -> str:
        """Send a state event; return its event ID."""
        request = requests.send_state(room_id, event_type, state_key, content)
        return parse_event_id(await self._http.json(request))

    async def redact(self, room_id: str, event_id: str, *, reason: str | None = None) -> str:
        """Redact an event; return the redaction's event ID."""
        params = {"roomId": room_id, "eventId": event_id, "txnId": self.new_txn_id()}
        body = {"reason": reason} if reason is not None else {}
        request = requests.build("redact", params=params, body=body)
        return parse_event_id(await self._http.json(request))

    async def server_search(
        self,
        term: str,
        *,
        rooms: list[str] | tuple[str, ...] | None = None,
        limit: int = 10,
        order_by: str = "rank",
        next_batch: str | None = None,
        extra: JsonDict | None = None,
    ) -> JsonDict:
        """The server's full-text search of rooms that are not encrypted (`POST /search`);
        the body as the server answers it. Encrypted rooms: `AsyncClient.search`.

        Args:
            term: What to look for.
            rooms: Only these rooms (all the user's rooms if None).
            limit: Results per page.
            order_by: `rank` or `recent`.
            next_batch: The `next_batch` of the previous page.
            extra: Further `room_events` criteria (`keys`, `event_context`, `groupings`, …).
        """
        event_filter: JsonDict = {"limit": limit}
        if rooms is not None:
            event_filter["rooms"] = list(rooms)
        criteria: JsonDict = {"search_term": term, "order_by": order_by, "filter": event_filter}
        criteria.update(extra or {})
        return await self._http.json(requests.search(criteria, next_batch=next_batch))

    async def set_displayname(self, displayname: str) -> None:
        """Set our display name."""
        await self._http.json(requests.set_displayname(self._require_user(), displayname))

    async def get_displayname(self, user_id: str | None = None) -> str | None:
        """A user's display name (ours by default)."""
        params = {"userId": user_id or self._require_user(), "keyName": "displayname"}
        body = await self._http.json(requests.build("get_profile_field", params=params))
        name = body.get("displayname")
        return name if isinstance(name, str) else None

"""Room aliases and room directory visibility (spec: "Room aliases", "Room directory").

An alias `#name:server` of this server maps to one room; the mapping lives in `room_aliases`
with the user who made it. Who may do what follows Synapse, within what the spec allows:

- creating an alias needs the user to be joined to the room (server admins need not be);
- deleting one is for its creator, server admins, or members whose power level lets them
  send `m.room.canonical_alias`; the room's canonical alias event then drops it where the
  deleter may send that event, and the alias is deleted even where they may not;
- publishing a room in the directory (or hiding it) is for server admins and for members who
  may send `m.room.canonical_alias`.

Aliases of other servers are resolved by asking their server (`RemoteAliases`, federation
`query/directory`); without federation they are answered `M_NOT_FOUND`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core.errors import (
    M_FORBIDDEN,
    M_INVALID_PARAM,
    M_NOT_FOUND,
    M_UNKNOWN,
    JsonDict,
    MatrixError,
)
from core.event_types import M_ROOM_CANONICAL_ALIAS, M_ROOM_CREATE, M_ROOM_POWER_LEVELS, Membership
from core.events import Pdu
from core.identifiers import RoomAlias, RoomId, UserId, server_name_of
from core.power_levels import get_required_level, get_user_power_level
from homeserver.services.common.params import checked_room_alias, checked_room_id
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.events import EventService, NewEvent
from homeserver.storage.rooms.aliases import AliasStore
from homeserver.storage.rooms.directory import DirectoryStore
from homeserver.storage.rooms.events import EventStore

logger = logging.getLogger(__name__)

VISIBILITIES = ("public", "private")


class RemoteAliases(Protocol):
    """Aliases of other servers (federation `query/directory`)."""

    async def query_alias(self, alias: RoomAlias) -> JsonDict:
        """`{"room_id", "servers"}` as the alias's server answers; `M_NOT_FOUND` if unknown."""
        ...


class DirectoryService:
    """Creates, resolves and deletes local room aliases; publishes rooms in the directory."""

    def __init__(
        self,
        *,
        server_name: str,
        aliases: AliasStore,
        directory: DirectoryStore,
        store: EventStore,
        events: EventService,
        remote: RemoteAliases | None = None,
    ) -> None:
        self._server_name = server_name
        self._remote = remote
        self._aliases = aliases
        self._directory = directory
        self._store = store
        self._events = events

    def parse_alias(self, value: str) -> str:
        """A syntactically valid room alias, or `M_INVALID_PARAM`."""
        alias = checked_room_alias(value)
        if "\x00" in alias:
            raise MatrixError(M_INVALID_PARAM, "Room alias invalid: NUL character")
        return alias

    @staticmethod
    def parse_room_id(value: object) -> RoomId:
        """A syntactically valid room ID, or `M_INVALID_PARAM`."""
        return checked_room_id(value)

    async def resolve_alias(self, value: str) -> JsonDict:
        """`{"room_id", "servers"}` for an alias; `M_NOT_FOUND` if nothing is mapped."""
        alias = self.parse_alias(value)
        if not self._is_local(alias) and self._remote is not None:
            return await self._remote.query_alias(RoomAlias(alias))
        found = await self._aliases.get_alias(alias) if self._is_local(alias) else None
        if found is None:
            raise MatrixError(M_NOT_FOUND, f"Room alias {alias} not found")
        room_id = found[0]
        members = await self._store.room_members(room_id, Membership.JOIN)
        others = sorted({server_name_of(user_id) for user_id in members} - {self._server_name})
        return {"room_id": room_id, "servers": [self._server_name, *others]}

    async def create_alias(self, requester: Requester, value: str, room_id: RoomId) -> None:
        """Map a new local alias to a room the requester is in.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a bad or foreign alias, `M_NOT_FOUND` for an
                unknown room, `M_FORBIDDEN` if the requester is not in it, and `M_UNKNOWN`
                with status 409 when the alias is taken.
        """
        alias = self.parse_alias(value)
        if not self._is_local(alias):
            raise MatrixError(M_INVALID_PARAM, "Room alias must be on this server")
        await self._require_room(room_id)
        if not requester.is_admin and not await self._is_joined(requester.user_id, room_id):
            raise MatrixError(M_FORBIDDEN, "You must be in the room to create an alias for it")
        if not await self._aliases.create_alias(alias, room_id, requester.user_id):
            raise MatrixError(M_UNKNOWN, f"Room alias {alias} already exists", status=409)
        logger.info("alias created room_id=%s user_id=%s", room_id, requester.user_id)

    async def delete_alias(self, requester: Requester, value: str) -> None:
        """Remove a local alias, and from the room's canonical alias event where allowed."""
        alias = self.parse_alias(value)
        found = await self._aliases.get_alias(alias) if self._is_local(alias) else None
        if found is None:
            raise MatrixError(M_NOT_FOUND, f"Room alias {alias} not found")
        room_id, creator = found
        if creator != requester.user_id and not await self._can_edit_directory(requester, room_id):
            raise MatrixError(M_FORBIDDEN, "You may not delete this alias")
        if not await self._aliases.delete_alias(alias):
            raise MatrixError(M_NOT_FOUND, f"Room alias {alias} not found")
        logger.info("alias deleted room_id=%s user_id=%s", room_id, requester.user_id)
        try:
            await self._drop_from_canonical_alias(requester, room_id, alias)
        except MatrixError as exc:
            # Best effort, as the spec recommends: the alias is gone either way.
            logger.info("canonical alias not updated room_id=%s errcode=%s", room_id, exc.errcode)

    async def local_aliases(self, requester: Requester, room_id: RoomId) -> list[str]:
        """The room's local aliases, for its members or anyone if it is world-readable."""
        allowed = (
            requester.is_admin
            or await self._is_joined(requester.user_id, room_id)
            or await self._directory.history_visibility(room_id) == "world_readable"
        )
        if not allowed:
            raise MatrixError(M_FORBIDDEN, "You are not a member of the room")
        return await self._aliases.aliases_for_room(room_id)

    async def visibility(self, room_id: RoomId) -> str:
        """`public` or `private`: whether the room is published in the directory."""
        is_public = await self._aliases.is_public(room_id)
        if is_public is None:
            raise MatrixError(M_NOT_FOUND, "Room not found")
        return "public" if is_public else "private"

    async def set_visibility(self, requester: Requester, room_id: RoomId, visibility: str) -> None:
        """Publish (`public`) or hide (`private`) a room in the directory."""
        if visibility not in VISIBILITIES:
            raise MatrixError(M_INVALID_PARAM, "visibility must be 'public' or 'private'")
        await self._require_room(room_id)
        if not await self._can_edit_directory(requester, room_id):
            raise MatrixError(
                M_FORBIDDEN, "You need the power to change the room's canonical alias"
            )
        await self._aliases.set_public(room_id, visibility == "public")
        logger.info(
            "room visibility set room_id=%s visibility=%s user_id=%s",
            room_id,
            visibility,
            requester.user_id,
        )

    def _is_local(self, alias: str) -> bool:
        return server_name_of(alias) == self._server_name

    async def _require_room(self, room_id: RoomId) -> None:
        if await self._store.room_version(room_id) is None:
            raise MatrixError(M_NOT_FOUND, "Room not found")

    async def _is_joined(self, user_id: UserId, room_id: RoomId) -> bool:
        membership = await self._store.membership(user_id, room_id)
        return membership is not None and membership[0] == Membership.JOIN

    async def _can_edit_directory(self, requester: Requester, room_id: RoomId) -> bool:
        """Server admins, and members with the power to send `m.room.canonical_alias`."""
        if requester.is_admin:
            return True
        if not await self._is_joined(requester.user_id, room_id):
            return False
        state = await self._events.current_state(room_id)
        wanted = [
            state[key] for key in ((M_ROOM_POWER_LEVELS, ""), (M_ROOM_CREATE, "")) if key in state
        ]
        auth_state = _by_state_key(await self._events.get_pdus(wanted))
        levels = auth_state.get((M_ROOM_POWER_LEVELS, ""))
        required = get_required_level(
            M_ROOM_CANONICAL_ALIAS,
            True,
            levels.content if levels is not None else None,
            room_version=levels.room_version if levels is not None else None,
        )
        return get_user_power_level(requester.user_id, auth_state) >= required

    async def _drop_from_canonical_alias(
        self, requester: Requester, room_id: RoomId, alias: str
    ) -> None:
        state = await self._events.current_state(room_id)
        event_id = state.get((M_ROOM_CANONICAL_ALIAS, ""))
        if event_id is None:
            return
        events = await self._events.get_pdus([event_id])
        if not events:
            return
        content = dict(events[0].content)
        changed = content.get("alias") == alias
        if changed:
            del content["alias"]
        alt_aliases = content.get("alt_aliases")
        if isinstance(alt_aliases, list) and alias in alt_aliases:
            changed = True
            remaining = [a for a in alt_aliases if a != alias]
            if remaining:
                content["alt_aliases"] = remaining
            else:
                del content["alt_aliases"]
        if not changed:
            return
        await self._events.send(
            NewEvent(room_id, requester.user_id, M_ROOM_CANONICAL_ALIAS, content, "")
        )


def _by_state_key(events: Sequence[Pdu]) -> dict[tuple[str, str], Pdu]:
    found: dict[tuple[str, str], Pdu] = {}
    for event in events:
        pair = event.state_pair()
        if pair is not None:
            found[pair] = event
    return found

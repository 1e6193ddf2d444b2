"""Membership changes (spec: "Room membership"): join, invite, leave, kick, ban, unban, knock,
forget. Each is an `m.room.member` event; the auth rules decide whether it is allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core.auth_base import AUTHORISED_VIA
from core.errors import (
    M_FORBIDDEN,
    M_NOT_FOUND,
    JsonDict,
    MatrixError,
)
from core.event_types import M_ROOM_MEMBER, Membership
from core.events import Pdu
from core.identifiers import RoomAlias, RoomId, UserId, server_name_of
from homeserver.services.common.params import checked_room_alias, checked_room_id, checked_user_id
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.events import EventService, NewEvent, SentEvent
from homeserver.services.rooms.restricted_joins import RestrictedJoins
from homeserver.storage.accounts.profiles import ProfileStore
from homeserver.storage.rooms.aliases import AliasStore
from homeserver.storage.rooms.events import EventStore

logger = logging.getLogger(__name__)


class RemoteRooms(Protocol):
    """Membership in rooms this server is not in, through other servers (federation)."""

    async def join(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Join through the first of `servers` that lets us."""
        ...

    async def leave(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Leave (reject an invite to) a room through `servers`."""
        ...

    async def knock(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Knock on a room through the first of `servers` that lets us."""
        ...

    async def cosign(self, pdu: Pdu) -> Pdu:
        """An invite of a remote user, signed by their server."""
        ...

    async def resolve_alias(self, alias: RoomAlias) -> tuple[RoomId, list[str]]:
        """A remote alias's room ID and the servers to join it through."""
        ...


class MembershipService:
    """Changes memberships of local users in local rooms."""

    def __init__(
        self,
        *,
        events: EventService,
        store: EventStore,
        aliases: AliasStore,
        profiles: ProfileStore,
        limiter: RateLimiter,
        join_limit: Limit,
        server_name: str = "",
        restricted: RestrictedJoins | None = None,
    ) -> None:
        self._events = events
        self._store = store
        self._aliases = aliases
        self._profiles = profiles
        self._limiter = limiter
        self._join_limit = join_limit
        self._server_name = server_name
        self._restricted = restricted
        self._remote: RemoteRooms | None = None

    def use_remote(self, remote: RemoteRooms) -> None:
        """Reach rooms on other servers through `remote` (set once federation is wired)."""
        self._remote = remote

    @staticmethod
    def check_user_id(user_id: object) -> UserId:
        """A valid user ID, or `M_INVALID_PARAM`."""
        return checked_user_id(user_id)

    async def resolve_room(self, room_id_or_alias: str) -> RoomId:
        """The room ID named by an ID or a local alias."""
        if room_id_or_alias.startswith("#"):
            found = await self._aliases.get_alias(checked_room_alias(room_id_or_alias))
            if found is None:
                raise MatrixError(M_NOT_FOUND, "Room alias not found")
            return found[0]
        return checked_room_id(room_id_or_alias)

    async def join_new_room(self, requester: Requester, room_id: RoomId) -> None:
        """The creator's join right after the create event (not rate limited)."""
        await self._member_event(
            requester.user_id, room_id, requester.user_id, Membership.JOIN, None
        )

    async def join(
        self,
        requester: Requester,
        room_id_or_alias: str,
        reason: str | None,
        servers: Sequence[str] = (),
    ) -> RoomId:
        """Join a room by ID or alias; returns the room ID. A room this server is not in is
        joined through `servers`, the alias's servers, the room ID's and the inviter's."""
        self._limiter.check("join", requester.user_id, self._join_limit)
        room_id, alias_servers = await self._resolve_for_join(room_id_or_alias)
        if self._remote is not None and not await self._resident(room_id):
            hints = [*servers, *alias_servers, *await self._hints(requester.user_id, room_id)]
            if any(server != self._server_name for server in hints):
                content = await self._member_content(requester.user_id, Membership.JOIN, reason)
                await self._remote.join(requester.user_id, room_id, hints, content)
                return room_id
        await self._require_room(room_id)
        current = await self._store.membership(requester.user_id, room_id)
        if current is not None and current[0] == Membership.JOIN:
            return room_id  # joining again is a no-op, as clients retry joins
        extra = await self._authorised_via(requester.user_id, room_id)
        await self._member_event(
            requester.user_id, room_id, requester.user_id, Membership.JOIN, reason, extra
        )
        return room_id

    async def knock(
        self,
        requester: Requester,
        room_id_or_alias: str,
        reason: str | None,
        servers: Sequence[str] = (),
    ) -> RoomId:
        """Knock on a room by ID or alias; returns the room ID. A room this server is not in
        is knocked on through `servers`, the alias's servers and the room ID's."""
        self._limiter.check("join", requester.user_id, self._join_limit)
        room_id, alias_servers = await self._resolve_for_join(room_id_or_alias)
        if self._remote is not None and not await self._resident(room_id):
            hints = [*servers, *alias_servers, *await self._hints(requester.user_id, room_id)]
            if any(server != self._server_name for server in hints):
                content = await self._member_content(requester.user_id, Membership.KNOCK, reason)
                await self._remote.knock(requester.user_id, room_id, hints, content)
                return room_id
        await self._require_room(room_id)
        await self._member_event(
            requester.user_id, room_id, requester.user_id, Membership.KNOCK, reason
        )
        return room_id

    async def invite(
        self,
        requester: Requester,
        room_id: RoomId,
        target: UserId,
        reason: str | None,
        is_direct: bool = False,
    ) -> None:
        """Invite `target` to a room."""
        target = self.check_user_id(target)
        await self._require_room(room_id)
        current = await self._store.membership(target, room_id)
        if current is not None and current[0] == Membership.BAN:
            raise MatrixError(M_FORBIDDEN, "The user is banned from this room")
        extra: JsonDict = {"is_direct": True} if is_direct else {}
        await self._member_event(
            requester.user_id, room_id, target, Membership.INVITE, reason, extra
        )

    async def leave(self, requester: Requester, room_id: RoomId, reason: str | None) -> None:
        """Leave a room (also rejects an invite or withdraws a knock)."""
        await self._require_room(room_id)
        current = await self._store.membership(requester.user_id, room_id)
        if (
            self._remote is not None
            and current is not None
            and current[0] in (Membership.INVITE, Membership.KNOCK)
            and not await self._resident(room_id)
        ):
            hints = await self._hints(requester.user_id, room_id)
            content = await self._member_content(requester.user_id, Membership.LEAVE, reason)
            await self._remote.leave(requester.user_id, room_id, hints, content)
            return
        if current is None or current[0] in (Membership.LEAVE, Membership.BAN):
            if current is None:
                raise MatrixError(M_FORBIDDEN, "You are not in this room")
            return
        await self._member_event(
            requester.user_id, room_id, requester.user_id, Membership.LEAVE, reason
        )

    async def kick(
        self, requester: Requester, room_id: RoomId, target: UserId, reason: str | None
    ) -> None:
        """Kick `target` out of a room."""
        target = self.check_user_id(target)
        await self._require_room(room_id)
        current = await self._store.membership(target, room_id)
        if current is None or current[0] not in (
            Membership.JOIN,
            Membership.INVITE,
            Membership.KNOCK,
        ):
            raise MatrixError(M_FORBIDDEN, "The user is not in this room")
        await self._member_event(requester.user_id, room_id, target, Membership.LEAVE, reason)

    async def ban(
        self, requester: Requester, room_id: RoomId, target: UserId, reason: str | None
    ) -> None:
        """Ban `target` from a room."""
        target = self.check_user_id(target)
        await self._require_room(room_id)
        await self._member_event(requester.user_id, room_id, target, Membership.BAN, reason)

    async def unban(
        self, requester: Requester, room_id: RoomId, target: UserId, reason: str | None
    ) -> None:
        """Lift a ban (the target's membership becomes `leave`)."""
        target = self.check_user_id(target)
        await self._require_room(room_id)
        current = await self._store.membership(target, room_id)
        if current is None or current[0] != Membership.BAN:
            raise MatrixError(M_FORBIDDEN, "The user is not banned")
        await self._member_event(requester.user_id, room_id, target, Membership.LEAVE, reason)

    async def forget(self, requester: Requester, room_id: RoomId) -> None:
        """Forget a room the user has left."""
        current = await self._store.membership(requester.user_id, room_id)
        if current is not None and current[0] in (
            Membership.JOIN,
            Membership.INVITE,
            Membership.KNOCK,
        ):
            raise MatrixError(M_FORBIDDEN, "You must leave the room before forgetting it")
        await self._store.forget(requester.user_id, room_id)

    async def refresh_profile(self, user_id: UserId) -> None:
        """Re-send the user's join in every joined room so members see the new profile."""
        for room_id in await self._store.rooms_for_user(user_id, (Membership.JOIN,)):
            try:
                await self._member_event(user_id, room_id, user_id, Membership.JOIN, None)
            except MatrixError as exc:
                # One room refusing (e.g. power levels) must not block the others.
                logger.info("profile not propagated room_id=%s errcode=%s", room_id, exc.errcode)

    async def joined_rooms(self, requester: Requester) -> list[RoomId]:
        """The rooms the requester has joined."""
        return await self._store.rooms_for_user(requester.user_id, (Membership.JOIN,))

    async def _authorised_via(self, user_id: UserId, room_id: RoomId) -> JsonDict | None:
        """`join_authorised_via_users_server` for a join through a restricted join rule (one
        of our users able to invite vouches for it), None when the join needs none."""
        if self._restricted is None:
            return None
        state = await self._events.current_state(room_id)
        pdus = {p.event_id: p for p in await self._events.get_pdus(list(state.values()))}
        state_map = {key: pdus[e] for key, e in state.items() if e in pdus}
        authoriser = await self._restricted.authoriser(state_map, user_id)
        return {AUTHORISED_VIA: authoriser} if authoriser is not None else None

    async def _require_room(self, room_id: RoomId) -> None:
        if await self._store.room_version(room_id) is None:
            raise MatrixError(M_NOT_FOUND, "Unknown room")

    async def _resolve_for_join(self, room_id_or_alias: str) -> tuple[RoomId, list[str]]:
        if room_id_or_alias.startswith("#") and self._remote is not None:
            alias = checked_room_alias(room_id_or_alias)
            if server_name_of(alias) != self._server_name:
                return await self._remote.resolve_alias(alias)
        return await self.resolve_room(room_id_or_alias), []

    async def _resident(self, room_id: RoomId) -> bool:
        """Whether a user of this server is joined to the room."""
        members = await self._store.room_members(room_id, Membership.JOIN)
        return any(server_name_of(m) == self._server_name for m in members)

    async def _hints(self, user_id: UserId, room_id: RoomId) -> list[str]:
        """Servers likely in the room: the inviter's, the senders' of the room state a knock
        was answered with, and the room ID's (before v12)."""
        hints: list[str] = []
        current = await self._store.membership(user_id, room_id)
        if current is not None and current[0] in (Membership.INVITE, Membership.LEAVE):
            found = await self._events.get_pdus([current[1]])
            if found:
                hints.append(server_name_of(found[0].sender))
        if current is not None and current[0] == Membership.KNOCK:
            found = await self._events.get_pdus([current[1]])
            state = found[0].unsigned.get("knock_room_state") if found else None
            for entry in state if isinstance(state, list) else []:
                sender = entry.get("sender") if isinstance(entry, dict) else None
                if isinstance(sender, str) and sender.startswith("@") and ":" in sender:
                    hints.append(server_name_of(sender))
        if ":" in room_id:
            hints.append(server_name_of(room_id))
        return hints

    async def _member_content(
        self, target: UserId, membership: str, reason: str | None
    ) -> JsonDict:
        content: JsonDict = {"membership": membership}
        if membership in (Membership.JOIN, Membership.INVITE, Membership.KNOCK):
            profile = await self._profiles.get_profile(target)
            if profile is not None:
                displayname, avatar_url = profile
                if displayname is not None:
                    content["displayname"] = displayname
                if avatar_url is not None:
                    content["avatar_url"] = avatar_url
        if reason:
            content["reason"] = reason
        return content

    async def _member_event(
        self,
        sender: UserId,
        room_id: RoomId,
        target: UserId,
        membership: str,
        reason: str | None,
        extra: JsonDict | None = None,
    ) -> SentEvent:
        content = await self._member_content(target, membership, reason)
        if extra:
            content.update(extra)
        cosign = None
        remote = self._remote
        remote_target = server_name_of(target) != self._server_name
        if remote is not None and membership == Membership.INVITE and remote_target:
            cosign = remote.cosign
        event = NewEvent(room_id, sender, M_ROOM_MEMBER, content, target)
        return await self._events.send(event, cosign=cosign)

"""Rooms with a lifetime: direct-message rooms are deleted `dm_room_lifetime` after creation,
and any room can be deleted by an admin.

A direct-message room is one created on this server with exactly two members (joined or
invited) that was created as direct (an invite with `is_direct`) or is not public. When the job
first finds one it gets its deletion time, `created + lifetime` (never sooner than the warning
ahead of it, for rooms that predate the setting), and its members are told: a state event
`org.matrix.room.expiry` `{"expires_at": ms}` that clients show, sent at once, and a notice
`warn_ahead` before the time (a day, or half the lifetime when that is shorter). Both come from
the room's creator, or another member of ours who may send them.

Deleting a room: other servers' members are kicked (by a member of ours with the power to),
ours leave, the room leaves the room directory and loses its aliases, and every event of it,
state included, is purged with the media only it referenced. Each step is recorded as done
(`room_lifetimes`) and can be repeated, so the job resumes after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Final

from core.errors import JsonDict, MatrixError
from core.event_types import (
    M_ROOM_CREATE,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_MESSAGE,
    JoinRule,
    Membership,
)
from core.identifiers import DeviceId, RoomId, ServerName, UserId, server_name_of
from core.retention import ROOM_EXPIRY
from homeserver.clock import Clock
from homeserver.services.common.requester import Requester
from homeserver.services.retention.purger import Purger
from homeserver.services.rooms.events import EventService, NewEvent
from homeserver.services.rooms.membership import MembershipService
from homeserver.storage.retention.lifetimes import LifetimeStore, RoomLifetime, SmallRoom
from homeserver.storage.retention.purge import PurgeStore
from homeserver.storage.rooms.aliases import AliasStore

__all__ = ["RoomLifetimes", "warn_ahead"]

logger = logging.getLogger(__name__)

_DAY_MS: Final = 86_400_000
_PAGE: Final = 200
_PRESENT: Final = (Membership.JOIN, Membership.INVITE)
# Waiting for the tracker and the search indexer to pass the room's last events: this waits for
# another task's progress, not for a time, so it is not on the clock.
_DEFERRED_POLL_S: Final = 0.1
_DEFERRED_WAITS: Final = 50


def warn_ahead(lifetime_ms: int) -> int:
    """How long before a room's deletion its members get the notice."""
    return min(_DAY_MS, lifetime_ms // 2)


class RoomLifetimes:
    """Gives direct-message rooms their lifetime and deletes rooms (module docstring)."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        dm_lifetime_ms: int | None,
        store: LifetimeStore,
        purges: PurgeStore,
        purger: Purger,
        events: EventService,
        membership: MembershipService,
        aliases: AliasStore,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._lifetime = dm_lifetime_ms
        self._store = store
        self._purges = purges
        self._purger = purger
        self._events = events
        self._membership = membership
        self._aliases = aliases
        self._clock = clock
        # One run at a time (the job, an admin's deletion): members are told once.
        self._lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Find new direct-message rooms, tell members, delete rooms whose time has come;
        returns how many rooms were deleted."""
        async with self._lock:
            for room in await self._store.small_rooms(_PAGE) if self._lifetime else []:
                if await self._is_direct(room):
                    await self._store.add(room.room_id, self._expiry_of(room))
            deleted = 0
            for lifetime in await self._store.pending(_PAGE):
                deleted += await self._advance(lifetime)
            return deleted

    async def _advance(self, lifetime: RoomLifetime) -> int:
        now = self._clock.time_ms()
        room_id, expires = lifetime.room_id, lifetime.expires_ts
        if not lifetime.announced:
            await self._tell(room_id, ROOM_EXPIRY, {"expires_at": expires}, state=True)
            await self._store.mark(room_id, announced=True)
        lead = warn_ahead(self._lifetime or 0)
        if not lifetime.warned and now >= expires - lead:
            when = datetime.fromtimestamp(expires / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
            body = f"This conversation will be deleted on {when}, with its messages and files."
            content = {"msgtype": "m.notice", "body": body, ROOM_EXPIRY: {"expires_at": expires}}
            await self._tell(room_id, M_ROOM_MESSAGE, content, state=False)
            await self._store.mark(room_id, warned=True)
        if now < expires:
            return 0
        await self._delete(room_id)
        return 1

    async def delete_room(self, room_id: RoomId) -> JsonDict:
        """Delete a room: members removed, out of the directory, every event purged.

        Returns:
            `{"kicked": [...], "left": [...], "purged": N}`.
        """
        async with self._lock:
            # Recorded first: a deletion cut short (a restart) is finished by the job.
            await self._store.schedule(room_id, self._clock.time_ms())
            return await self._delete(room_id)

    async def _delete(self, room_id: RoomId) -> JsonDict:
        kicked, left = await self._remove_members(room_id)
        for alias in await self._aliases.aliases_for_room(room_id):
            await self._aliases.delete_alias(alias)
        await self._aliases.set_public(room_id, False)
        purged, waits = 0, 0
        while batch := await self._purges.room_events(room_id, _PAGE):
            done = await self._purger.purge(batch)
            purged += done.purged
            if done.deferred:
                # The events the removals just wrote wait for the tracker and the indexer.
                waits += 1
                if waits > _DEFERRED_WAITS:
                    break  # the job finishes it: the room stays pending
                await asyncio.sleep(_DEFERRED_POLL_S)
        else:
            await self._store.mark_deleted(room_id, self._clock.time_ms())
            logger.info("room deleted room_id=%s purged=%d", room_id, purged)
        await self._purger.release_media()
        await self._purger.scrub()
        return {"kicked": kicked, "left": left, "purged": purged}

    async def _remove_members(self, room_id: RoomId) -> tuple[list[str], list[str]]:
        members = await self._members(room_id)
        ours = [u for u, m in members.items() if self._is_local(u) and m in _PRESENT]
        theirs = [u for u, m in members.items() if not self._is_local(u) and m in _PRESENT]
        remover = await self._sender(room_id, ours)
        kicked: list[str] = []
        for user_id in theirs:
            if remover is None:
                break
            try:
                await self._membership.kick(_acting(remover), room_id, user_id, "Room deleted")
                kicked.append(user_id)
            except MatrixError as exc:
                logger.info("room deletion could not kick user_id=%s errcode=%s", user_id, exc)
        left: list[str] = []
        for user_id in sorted(ours, key=lambda u: u == remover):
            try:
                await self._membership.leave(_acting(user_id), room_id, "Room deleted")
                left.append(user_id)
            except MatrixError as exc:
                logger.info("room deletion could not remove user_id=%s errcode=%s", user_id, exc)
        return kicked, left

    async def _tell(self, room_id: RoomId, kind: str, content: JsonDict, *, state: bool) -> None:
        members = await self._members(room_id)
        ours = [u for u, m in members.items() if self._is_local(u) and m == Membership.JOIN]
        for sender in await self._senders(room_id, ours):
            try:
                new = NewEvent(room_id, sender, kind, content, "" if state else None)
                await self._events.send(new)
                return
            except MatrixError as exc:
                logger.info("room expiry not sent by user_id=%s errcode=%s", sender, exc.errcode)

    async def _sender(self, room_id: RoomId, candidates: list[UserId]) -> UserId | None:
        joined = await self._members(room_id)
        found = [u for u in await self._senders(room_id, candidates) if joined.get(u) == "join"]
        return found[0] if found else None

    async def _senders(self, room_id: RoomId, candidates: list[UserId]) -> list[UserId]:
        """`candidates`, the room's creator first."""
        state = await self._events.current_state(room_id)
        create_id = state.get((M_ROOM_CREATE, ""))
        creator = None
        if create_id is not None:
            pdus = await self._events.get_pdus([create_id])
            creator = pdus[0].sender if pdus else None
        return sorted(candidates, key=lambda u: (u != creator, u))

    async def _members(self, room_id: RoomId) -> dict[UserId, str]:
        state = await self._events.current_state(room_id)
        ids = [e for (kind, _), e in state.items() if kind == M_ROOM_MEMBER]
        return {
            UserId(p.state_key): p.membership or Membership.LEAVE
            for p in await self._events.get_pdus(ids)
            if p.state_key is not None
        }

    async def _is_direct(self, room: SmallRoom) -> bool:
        if not self._is_local(room.creator):
            return False
        try:
            state = await self._events.current_state(room.room_id)
        except MatrixError:
            return False
        ids = [e for (kind, _), e in state.items() if kind in (M_ROOM_MEMBER, M_ROOM_JOIN_RULES)]
        pdus = await self._events.get_pdus(ids)
        if any(p.type == M_ROOM_MEMBER and p.content.get("is_direct") is True for p in pdus):
            return True
        rules = [p for p in pdus if p.type == M_ROOM_JOIN_RULES]
        return not rules or rules[0].content.get("join_rule") != JoinRule.PUBLIC

    def _expiry_of(self, room: SmallRoom) -> int:
        lifetime = self._lifetime or 0
        return max(room.created_ts + lifetime, self._clock.time_ms() + warn_ahead(lifetime))

    def _is_local(self, user_id: str) -> bool:
        return server_name_of(user_id) == self._server_name


def _acting(user_id: UserId) -> Requester:
    """The server acting for one of its users (no device, no token)."""
    return Requester(user_id, DeviceId(""), is_admin=False, access_token_hash="")

"""Authorising joins to restricted rooms as a resident server (Client-Server API "Restricted
rooms", Server-Server API "Restricted rooms").

A user who is neither invited nor joined joins a `restricted` or `knock_restricted` room
through one of its `m.room_membership` conditions: we must be in the allowed room and see the
user joined there, and one of our users able to invite must vouch for the join in
`join_authorised_via_users_server` (our server then signs the join). The errors are the
spec's: 403 `M_FORBIDDEN` when the user meets no condition we can check, 400
`M_UNABLE_TO_AUTHORISE_JOIN` when we are in none of the allowed rooms, 400
`M_UNABLE_TO_GRANT_JOIN` when no user of ours may invite (another server should be asked).
"""

from __future__ import annotations

from core.errors import (
    M_FORBIDDEN,
    M_UNABLE_TO_AUTHORISE_JOIN,
    M_UNABLE_TO_GRANT_JOIN,
    MatrixError,
)
from core.event_types import Membership
from core.identifiers import RoomId, UserId, server_name_of
from core.power_levels import StateMap
from core.restricted_joins import allowed_room_ids, join_needs_authoriser, pick_authoriser
from homeserver.storage.rooms.events import EventStore

__all__ = ["RestrictedJoins"]


class RestrictedJoins:
    """Decides whether we can authorise a restricted join, and through whom."""

    def __init__(self, *, server_name: str, store: EventStore) -> None:
        self._server_name = server_name
        self._store = store

    async def authoriser(self, state: StateMap, user_id: UserId) -> UserId | None:
        """The user of ours to name in `join_authorised_via_users_server` for a join of
        `user_id` into the room whose current state is `state`; None when the join needs no
        authorisation (another join rule, or the user is invited or joined).

        Raises:
            MatrixError: 403 `M_FORBIDDEN`, 400 `M_UNABLE_TO_AUTHORISE_JOIN` or 400
                `M_UNABLE_TO_GRANT_JOIN`, as the module docstring says.
        """
        if not join_needs_authoriser(state, user_id):
            return None
        await self.check_conditions(state, user_id)
        chosen = pick_authoriser(state, self._server_name)
        if chosen is None:
            raise MatrixError(
                M_UNABLE_TO_GRANT_JOIN, "No user of this server may invite to the room", status=400
            )
        return UserId(chosen)

    async def check_conditions(self, state: StateMap, user_id: UserId) -> None:
        """Require that `user_id` is joined to one of the allowed rooms we are in.

        Raises:
            MatrixError: 403 `M_FORBIDDEN` or 400 `M_UNABLE_TO_AUTHORISE_JOIN`.
        """
        rooms = [RoomId(r) for r in allowed_room_ids(state)]
        if not rooms:
            raise MatrixError(M_FORBIDDEN, "The room's join rules allow nobody to join")
        known = [r for r in rooms if await self._resident(r)]
        if not known:
            raise MatrixError(
                M_UNABLE_TO_AUTHORISE_JOIN,
                "This server is in none of the rooms that allow joining",
                status=400,
            )
        for room_id in known:
            current = await self._store.membership(user_id, room_id)
            if current is not None and current[0] == Membership.JOIN:
                return
        raise MatrixError(M_FORBIDDEN, "You are not a member of a room that allows joining")

    async def _resident(self, room_id: RoomId) -> bool:
        members = await self._store.room_members(room_id, Membership.JOIN)
        return any(server_name_of(m) == self._server_name for m in members)

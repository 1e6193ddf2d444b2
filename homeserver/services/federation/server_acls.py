"""Server ACLs of our rooms, applied to the servers that make requests of us (Server-Server
API "Server Access Control Lists (ACLs)").

The ACL is the `m.room.server_acl` event of the room's current state, matched by
`core.server_acl`. A room we do not know, or one without an ACL, allows every server. The
callers decide what a denial means: a 403 `M_FORBIDDEN` on the protected endpoints (`check`),
an error for that PDU in a transaction, a dropped EDU (`allows`).
"""

from __future__ import annotations

import logging

from core.errors import M_FORBIDDEN, MatrixError
from core.event_types import M_ROOM_SERVER_ACL
from core.identifiers import ServerName, parse_room_id
from core.server_acl import ServerAcl
from homeserver.services.rooms.events import EventService

__all__ = ["ServerAcls"]

logger = logging.getLogger(__name__)


class ServerAcls:
    """Reads a room's server ACL and answers whether a server may take part."""

    def __init__(self, *, events: EventService) -> None:
        self._events = events

    async def acl(self, room_id: str) -> ServerAcl | None:
        """The ACL in the current state of `room_id`; None for no ACL or an unknown room."""
        try:
            state = await self._events.current_state(parse_room_id(room_id))
        except (MatrixError, ValueError):
            return None  # a malformed room ID (the caller refuses it) or a room we do not know
        event_id = state.get((M_ROOM_SERVER_ACL, ""))
        if event_id is None:
            return None
        found = await self._events.get_pdus([event_id])
        return ServerAcl.from_content(found[0].content) if found else None

    async def allows(self, server: ServerName, room_id: object) -> bool:
        """Whether `server` may take part in `room_id` (True for a room we do not know)."""
        if not isinstance(room_id, str):
            return True
        acl = await self.acl(room_id)
        if acl is None or acl.allows(server):
            return True
        logger.info("server ACL denies origin=%s room_id=%s", server, room_id)
        return False

    async def check(self, server: ServerName, room_id: object) -> None:
        """Raise 403 `M_FORBIDDEN` if the room's ACL denies `server`."""
        if not await self.allows(server, room_id):
            raise MatrixError(M_FORBIDDEN, "Server access denied by the room's server ACL")

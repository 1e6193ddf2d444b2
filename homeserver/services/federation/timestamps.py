"""A room's event nearest a time, for clients (client-server API `GET /rooms/{roomId}/
timestamp_to_event`); other servers are answered by `EventReads`.

Here first: the first timeline event at or after `ts` (`dir=f`) or the last at or before it
(`dir=b`), within what the reader may see of the room (a departed member's range ends at the
departure). Our history of a room we joined late starts at our earliest event: when `ts` is
older than that and the room has history we have not fetched, the servers in the room are
asked in turn (`/timestamp_to_event`, the creator's first), as the spec suggests. An answer in
the right direction and closer to `ts` than ours wins once its event checks out: fetched with
`/event`, format, signatures and auth against its auth events checked, and kept as an outlier
so the client can read it.
"""

from __future__ import annotations

import asyncio
import logging

from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.identifiers import EventId, RoomId
from federation.errors import FederationError
from homeserver.services.common.params import checked_room_id
from homeserver.services.common.requester import Requester
from homeserver.services.federation.backfill import ASK_DEADLINE_S, RoomBackfill
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.storage.rooms.history import HistoryStore

__all__ = ["EventTimestamps"]

logger = logging.getLogger(__name__)


class EventTimestamps:
    """Finds the event nearest a time, asking other servers when our history falls short."""

    def __init__(
        self,
        *,
        history: HistoryStore,
        visibility: VisibilityService,
        backfill: RoomBackfill | None,
        requests: RemoteRequests | None,
    ) -> None:
        self._history = history
        self._visibility = visibility
        self._backfill = backfill
        self._requests = requests

    async def closest(
        self, requester: Requester, room_id: str, ts: int, forwards: bool
    ) -> JsonDict:
        """`{"event_id", "origin_server_ts"}` of the event nearest `ts` in one direction.

        Raises:
            MatrixError: `M_FORBIDDEN` if the requester may not read the room, `M_NOT_FOUND`
                if no event lies that way.
        """
        room = checked_room_id(room_id)
        access = await self._visibility.room_access(requester.user_id, room)
        local = await self._history.nearest(room, ts, forwards, access.upto)
        found = (local.event_id, local.origin_server_ts) if local is not None else None
        if await self._before_our_history(room, ts):
            found = await self._remote(room, ts, forwards, found) or found
        if found is None:
            way = "forward" if forwards else "backward"
            raise MatrixError(M_NOT_FOUND, f"Unable to find event from {ts} in {way} direction")
        return {"event_id": found[0], "origin_server_ts": found[1]}

    async def _before_our_history(self, room: RoomId, ts: int) -> bool:
        """Whether `ts` is older than our earliest event of a room with unfetched history."""
        if self._backfill is None:
            return False
        oldest = await self._history.oldest_events(room, 1)
        oldest_ts = oldest[0].get("origin_server_ts") if oldest else None
        if isinstance(oldest_ts, int) and ts >= oldest_ts:
            return False
        return bool(await self._backfill.backward_extremities(room))

    async def _remote(
        self, room: RoomId, ts: int, forwards: bool, local: tuple[EventId, int] | None
    ) -> tuple[EventId, int] | None:
        """The first answer of a server in the room that beats `local` and checks out."""
        backfill, requests = self._backfill, self._requests
        if backfill is None or requests is None:
            return None
        deadline = asyncio.get_running_loop().time() + ASK_DEADLINE_S
        for server in await backfill.servers(room):
            try:
                async with asyncio.timeout_at(deadline):
                    event_id, found_ts = await requests.timestamp_to_event(
                        server, room, ts, forwards
                    )
            except (FederationError, TimeoutError) as exc:
                logger.info("timestamp_to_event failed server=%s error=%r", server, exc)
                continue
            if (found_ts < ts if forwards else found_ts > ts) or (
                local is not None and abs(found_ts - ts) >= abs(local[1] - ts)
            ):
                continue
            pdu = await backfill.fetch_event(server, room, event_id)
            actual = pdu.origin_server_ts if pdu is not None else None
            if actual is not None and (actual >= ts if forwards else actual <= ts):
                return event_id, actual
        return None

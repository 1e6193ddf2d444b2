"""Retention as the API sees it: the MSC1763 discovery answer for clients, and the admin
operations (purge a room's history before a time, delete a room with its media, list rooms by
expiry, the counters); and the periodic job (`run`): the policy purge and room lifetimes.

Admin operations require a server admin (`M_FORBIDDEN` otherwise) and check their input
(`M_INVALID_PARAM`, `M_NOT_FOUND` for an unknown room).
"""

from __future__ import annotations

import logging
from typing import Final

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, JsonDict, MatrixError
from core.identifiers import RoomId
from core.retention import MAX_LIFETIME_MS
from homeserver.clock import Clock
from homeserver.services.common.requester import Requester, require_admin
from homeserver.services.retention.policy import RetentionPolicyJob
from homeserver.services.retention.room_lifetimes import RoomLifetimes
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.storage.retention.lifetimes import LifetimeStore
from homeserver.storage.rooms.reads import RoomReadStore

__all__ = ["RetentionService"]

logger = logging.getLogger(__name__)

MAX_PAGE: Final = 1000
DEFAULT_PAGE: Final = 100


class RetentionService:
    """The retention endpoints' one service."""

    def __init__(
        self,
        *,
        policy: RetentionPolicyJob,
        rooms: RoomLifetimes,
        expiry: EventExpiry,
        lifetimes: LifetimeStore,
        reads: RoomReadStore,
        clock: Clock,
        interval_ms: int,
    ) -> None:
        self._policy = policy
        self._rooms = rooms
        self._expiry = expiry
        self._lifetimes = lifetimes
        self._reads = reads
        self._clock = clock
        self._interval_ms = interval_ms

    async def run(self) -> None:
        """Every `interval_ms` until cancelled: delete what is due (a failed run is logged
        and the next one tries again; all the work is found in the database)."""
        while True:
            await self.run_once()
            await self._clock.sleep(self._interval_ms / 1000)

    async def run_once(self) -> None:
        """One run: room lifetimes first (a deleted room needs no message purge), then the
        retention policy."""
        for name, job in (
            ("room lifetimes", self._rooms.run_once),
            ("purge", self._policy.run_once),
        ):
            try:
                await job()
            except Exception:
                logger.exception("retention job failed job=%s", name)

    def configuration(self) -> JsonDict:
        """`GET /_matrix/client/unstable/org.matrix.msc1763/retention/configuration`."""
        return self._policy.configuration()

    async def purge_history(
        self, requester: Requester, room_id: RoomId, body: JsonDict
    ) -> JsonDict:
        """Purge the room's messages sent before `before_ts` (state is kept).

        Raises:
            MatrixError: `M_INVALID_PARAM` for a missing or bad `before_ts`.
        """
        require_admin(requester)
        await self._require_room(room_id)
        before = body.get("before_ts")
        if type(before) is not int or not 0 <= before <= MAX_LIFETIME_MS:
            raise MatrixError(M_INVALID_PARAM, "before_ts must be a Unix time in milliseconds")
        before = min(before, self._clock.time_ms())
        purged = await self._policy.purge_before(room_id, None, before)
        await self._policy.settle(purged)
        logger.info("admin purge room_id=%s before_ts=%d purged=%d", room_id, before, purged)
        return {"purged": purged}

    async def delete_room(self, requester: Requester, room_id: RoomId) -> JsonDict:
        """Delete a room: members removed, out of the directory, events and media purged."""
        require_admin(requester)
        await self._require_room(room_id)
        logger.info("admin deletes room room_id=%s by=%s", room_id, requester.user_id)
        return await self._rooms.delete_room(room_id)

    async def rooms_by_expiry(
        self, requester: Requester, limit: int | None, start: int
    ) -> JsonDict:
        """Rooms ordered by their deletion time (rooms without one last), with the lifetime of
        their messages; `next_batch` continues the list."""
        require_admin(requester)
        size = DEFAULT_PAGE if limit is None else limit
        if not 0 < size <= MAX_PAGE or start < 0:
            raise MatrixError(M_INVALID_PARAM, f"limit must be 1 to {MAX_PAGE}, from 0 or more")
        page = await self._lifetimes.listing(size, start)
        rooms: list[JsonDict] = []
        for room_id, lifetime in page:
            entry: JsonDict = {
                "room_id": room_id,
                "message_lifetime_ms": await self._expiry.max_lifetime(room_id),
                "expires_at": lifetime.expires_ts if lifetime is not None else None,
                "deleted_at": lifetime.deleted_ts if lifetime is not None else None,
            }
            rooms.append(entry)
        body: JsonDict = {"rooms": rooms, "total": await self._lifetimes.room_count()}
        if len(page) == size:
            body["next_batch"] = str(start + size)
        return body

    async def stats(self, requester: Requester) -> JsonDict:
        """The purge counters."""
        require_admin(requester)
        return await self._policy.stats()

    async def _require_room(self, room_id: RoomId) -> None:
        if await self._reads.room_version(room_id) is None:
            raise MatrixError(M_NOT_FOUND, "Unknown room")

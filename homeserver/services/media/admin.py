"""Media administration: quarantine, deletion and the clean-up jobs.

Every deletion removes the item's rows (media and thumbnails) first and its blob files only
when no other row still references them (`MediaBlobs.release`), so deduplicated content shared
with another upload survives. `delete_referenced` is the retention purge's: media (ours, and
copies of other servers') that only purged events referenced. `purge_not_accessed` and `expire_unused` work in batches and
recompute their work from the database, so they can be interrupted and rerun at any time
(the retention job reuses `purge_not_accessed`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_NOT_FOUND, MatrixError
from core.identifiers import UserId
from core.retention import MediaRef
from homeserver.clock import Clock
from homeserver.services.common.requester import Requester
from homeserver.services.media.blobs import MediaBlobs
from homeserver.services.media.naming import valid_media_id
from homeserver.storage.media.metadata import MediaStore
from homeserver.storage.media.remote import RemoteMediaStore

logger = logging.getLogger(__name__)

_BATCH = 500
_CLEANUP_INTERVAL_S = 300.0
_DAY_MS = 86_400_000
# Far beyond any media age; keeps the cutoff timestamp well inside a 64-bit column.
_MAX_PURGE_DAYS = 1_000_000


class MediaAdminService:
    """Admin operations on local media and the periodic clean-up."""

    def __init__(
        self,
        server_name: str,
        store: MediaStore,
        blobs: MediaBlobs,
        clock: Clock,
        preview_cache_ms: int,
        remote: RemoteMediaStore | None = None,
    ) -> None:
        self._server_name = server_name
        self._store = store
        self._blobs = blobs
        self._clock = clock
        self._preview_cache_ms = preview_cache_ms
        self._remote = remote

    async def run_cleanup(self) -> None:
        """Forever: drop expired upload IDs and stale URL previews, every few minutes."""
        while True:
            try:
                expired = await self.expire_unused()
                now = self._clock.time_ms()
                previews = await self._store.purge_previews(now - self._preview_cache_ms)
                if expired or previews:
                    logger.info("media clean-up expired_ids=%s previews=%s", expired, previews)
            except Exception:
                logger.exception("media clean-up failed")
            await self._clock.sleep(_CLEANUP_INTERVAL_S)

    async def set_quarantined(
        self, requester: Requester, server_name: str, media_id: str, quarantined: bool
    ) -> None:
        """Quarantine an item (every download and thumbnail then answers 404) or release it."""
        _require_admin(requester)
        self._check_local(server_name, media_id)
        if not await self._store.set_quarantined(media_id, quarantined):
            raise MatrixError(M_NOT_FOUND, "Media not found")
        logger.info(
            "media quarantine media_id=%s quarantined=%s by=%s",
            media_id,
            quarantined,
            requester.user_id,
        )

    async def delete_item(self, requester: Requester, server_name: str, media_id: str) -> int:
        """Delete one item; returns 1, or raises `M_NOT_FOUND`."""
        _require_admin(requester)
        self._check_local(server_name, media_id)
        if await self._store.get(media_id) is None:
            raise MatrixError(M_NOT_FOUND, "Media not found")
        return await self.delete_media([media_id])

    async def delete_user_media(self, requester: Requester, user_id: UserId) -> int:
        """Delete everything a user uploaded; returns how many items."""
        _require_admin(requester)
        deleted = await self.delete_media(await self._store.media_ids_of_user(user_id))
        logger.info("media deleted for user user_id=%s count=%s", user_id, deleted)
        return deleted

    async def purge(self, requester: Requester, not_accessed_for_days: object) -> int:
        """The admin endpoint of `purge_not_accessed`."""
        _require_admin(requester)
        if (
            not isinstance(not_accessed_for_days, int)
            or isinstance(not_accessed_for_days, bool)
            or not 0 <= not_accessed_for_days <= _MAX_PURGE_DAYS
        ):
            raise MatrixError(
                M_INVALID_PARAM,
                f"not_accessed_for_days must be a whole number from 0 to {_MAX_PURGE_DAYS}",
            )
        return await self.purge_not_accessed(not_accessed_for_days * _DAY_MS)

    async def purge_not_accessed(self, max_age_ms: int) -> int:
        """Delete uploaded media not downloaded (or uploaded) within `max_age_ms`.

        Returns:
            How many items were deleted.
        """
        before = self._clock.time_ms() - max_age_ms
        total = 0
        while batch := await self._store.not_accessed_since(before, _BATCH):
            total += await self.delete_media(batch)
        if total:
            logger.info("media purged count=%s before_ts=%s", total, before)
        return total

    async def expire_unused(self) -> int:
        """Drop IDs from `POST /create` whose upload never came before they expired."""
        total = 0
        while batch := await self._store.expired_pending(self._clock.time_ms(), _BATCH):
            total += await self.delete_media(batch)
        return total

    async def delete_media(self, media_ids: list[str]) -> int:
        """Delete items and their thumbnails, then the blobs nothing else references."""
        await self._blobs.release(await self._store.delete_many(media_ids))
        return len(media_ids)

    async def delete_referenced(self, refs: Sequence[MediaRef]) -> int:
        """Delete media named by `mxc://` URIs (our uploads and our copies of other servers'
        media) with their thumbnails; returns the bytes freed."""
        valid = [ref for ref in refs if valid_media_id(ref.media_id)]
        ours = [ref.media_id for ref in valid if ref.server_name == self._server_name]
        blob_ids = await self._store.delete_many(ours)
        for ref in valid:
            if ref.server_name != self._server_name and self._remote is not None:
                blob_ids.extend(await self._remote.delete(ref.server_name, ref.media_id))
        return await self._blobs.release(blob_ids)

    def _check_local(self, server_name: str, media_id: str) -> None:
        if server_name != self._server_name or not valid_media_id(media_id):
            raise MatrixError(M_NOT_FOUND, "Media not found")


def _require_admin(requester: Requester) -> None:
    if not requester.is_admin:
        raise MatrixError(M_FORBIDDEN, "You are not a server admin")

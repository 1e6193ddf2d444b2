"""URL previews (spec: `GET /media/preview_url`): OpenGraph data of a page, cached.

Invariants: nothing is fetched unless previews are enabled; every fetch, including the page's
`og:image`, goes through `SafeFetcher` (SSRF guard, size and time limits); the page's image is
stored as local media and only its `mxc://` URI is returned. Previews are cached per URL and
fetch time for `cache_ms`: within that window the newest one is served, whatever `ts` asks
(the spec lets a server return a newer version), and concurrent requests for one URL share a
single fetch. HTML is parsed in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, M_UNKNOWN, JsonDict, MatrixError
from homeserver.clock import Clock
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.common.requester import Requester
from homeserver.services.media.html_meta import decode_html, parse_og
from homeserver.services.media.render import THUMBNAILABLE_TYPES
from homeserver.services.media.repository import MediaService
from homeserver.services.media.thumbnails import base_type
from homeserver.services.media.url_fetch import DestinationBlockedError, FetchError, SafeFetcher
from homeserver.storage.media.metadata import MediaStore

logger = logging.getLogger(__name__)

_MAX_URL = 2048
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True)
class UrlPreviewSettings:
    """URL preview policy (see `media.url_preview` in the config).

    Attributes:
        enabled: Whether previews are offered at all.
        cache_ms: How long a fetched preview is reused.
        max_image_bytes: Largest `og:image` downloaded.
        limit: Rate of preview requests per user.
    """

    enabled: bool
    cache_ms: int
    max_image_bytes: int
    limit: Limit


class UrlPreviewService:
    """Builds and caches URL previews."""

    def __init__(
        self,
        settings: UrlPreviewSettings,
        fetcher: SafeFetcher,
        store: MediaStore,
        media: MediaService,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._fetcher = fetcher
        self._store = store
        self._media = media
        self._limiter = limiter
        self._clock = clock
        self._inflight: dict[str, asyncio.Future[JsonDict]] = {}

    async def preview(self, requester: Requester, url: str) -> JsonDict:
        """The OpenGraph data of `url` (possibly cached).

        Raises:
            MatrixError: 403 `M_FORBIDDEN` when previews are off or the destination is
                refused; 502 `M_UNKNOWN` when the page cannot be fetched.
        """
        if not self._settings.enabled:
            raise MatrixError(M_FORBIDDEN, "URL previews are disabled on this server")
        parts = urlsplit(url)
        if len(url) > _MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
            raise MatrixError(M_INVALID_PARAM, "url must be an http:// or https:// URL")
        self._limiter.check("url_preview", requester.user_id, self._settings.limit)
        now = self._clock.time_ms()
        cached = await self._store.cached_preview(url, now - self._settings.cache_ms)
        if cached is not None:
            value: JsonDict = json.loads(cached)
            return value
        future = self._inflight.get(url)
        if future is None:
            future = asyncio.ensure_future(self._build(url))
            self._inflight[url] = future
            future.add_done_callback(lambda _: self._inflight.pop(url, None))
        return dict(await asyncio.shield(future))

    async def close(self) -> None:
        """Close the outbound connection pool."""
        await self._fetcher.close()

    async def _build(self, url: str) -> JsonDict:
        try:
            page = await self._fetcher.fetch(url)
        except DestinationBlockedError:
            logger.info("url preview refused: blocked destination")
            raise MatrixError(
                M_FORBIDDEN, "URL preview refused: the destination is not allowed"
            ) from None
        except FetchError as exc:
            logger.info("url preview fetch failed reason=%s", exc)
            raise MatrixError(M_UNKNOWN, "Could not fetch the URL to preview", status=502) from None
        og: JsonDict = {}
        kind = base_type(page.content_type)
        if kind in _HTML_TYPES:
            og = await asyncio.to_thread(_parse, page.body, page.charset, page.url)
            image_url = og.pop("og:image", None)
            if isinstance(image_url, str):
                og.update(await self._image_from(image_url))
        elif kind in THUMBNAILABLE_TYPES:
            og.update(await self._stored_image(page.body, kind))
        await self._store.store_preview(url, self._clock.time_ms(), json.dumps(og))
        return og

    async def _image_from(self, url: str) -> JsonDict:
        try:
            image = await self._fetcher.fetch(url, max_bytes=self._settings.max_image_bytes)
        except FetchError as exc:
            logger.info("url preview image skipped reason=%s", exc)
            return {}
        kind = base_type(image.content_type)
        if kind not in THUMBNAILABLE_TYPES:
            return {}
        return await self._stored_image(image.body, kind)

    async def _stored_image(self, data: bytes, content_type: str) -> JsonDict:
        record = await self._media.store_preview_image(data, content_type)
        og: JsonDict = {
            "og:image": self._media.mxc(record.media_id),
            "og:image:type": content_type,
            "matrix:image:size": len(data),
        }
        size = await self._media.image_size(record)
        if size is not None:
            og["og:image:width"], og["og:image:height"] = size
        return og


def _parse(body: bytes, charset: str | None, page_url: str) -> JsonDict:
    return parse_og(decode_html(body, charset), page_url)

"""Wiring the media domain: blob store, thumbnails, uploads and downloads, admin, previews."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from federation.client import FederationClient
from federation.media import MediaFetcher
from homeserver.app.wiring.shared import Shared
from homeserver.config import Config
from homeserver.services.media.admin import MediaAdminService
from homeserver.services.media.blobs import MediaBlobs
from homeserver.services.media.remote import RemoteMediaCache, RemoteMediaSettings
from homeserver.services.media.render import ThumbnailSpec
from homeserver.services.media.render_pool import ThumbnailPool
from homeserver.services.media.repository import MediaService, MediaSettings
from homeserver.services.media.thumbnails import ThumbnailService, ThumbnailSettings
from homeserver.services.media.url_fetch import FetchLimits, IpPolicy, SafeFetcher
from homeserver.services.media.url_preview import UrlPreviewService, UrlPreviewSettings
from homeserver.storage.factory import Stores
from homeserver.storage.media.crypto import media_master_key
from homeserver.storage.media.files import FilesystemBlobStore


@dataclass(frozen=True, slots=True)
class MediaServices:
    """The media domain's services."""

    media: MediaService
    media_admin: MediaAdminService
    url_previews: UrlPreviewService


def build_media(
    config: Config, stores: Stores, shared: Shared, client: FederationClient | None
) -> MediaServices:
    """The content repository and everything around it; other servers' media is fetched
    through `client` (None when federation is off: then there is none)."""
    cfg, clock = config.media, shared.clock
    master = media_master_key(cfg.master_key, config.media_key_file, create=cfg.encrypt_at_rest)
    files = FilesystemBlobStore(config.media_store_dir, master, encrypt=cfg.encrypt_at_rest)
    blobs = MediaBlobs(stores.media, files, clock)
    thumbnails = ThumbnailService(
        ThumbnailSettings(
            pregenerate=tuple(ThumbnailSpec.parse(size) for size in cfg.thumbnail_sizes),
            dynamic=cfg.dynamic_thumbnails,
            max_source_bytes=cfg.max_thumbnail_source_bytes,
        ),
        stores.media,
        blobs,
        ThumbnailPool(cfg.thumbnail_workers, cfg.max_thumbnail_pixels),
    )
    settings = MediaSettings(
        server_name=config.server_name,
        max_upload_bytes=cfg.max_upload_bytes,
        user_quota_bytes=cfg.user_quota_bytes,
        upload_limit=cfg.upload_rate,
        unused_id_expiry_ms=cfg.unused_id_expiry_ms,
        max_pending_uploads=cfg.max_pending_uploads,
        freeze_unauthenticated=cfg.freeze_unauthenticated,
        legacy_media_before_ms=cfg.legacy_media_before_ms,
    )
    remote = RemoteMediaCache(
        RemoteMediaSettings(
            max_bytes=cfg.max_upload_bytes,
            timeout_s=cfg.remote_fetch_timeout_ms / 1000,
            frozen_before_ms=cfg.legacy_media_before_ms if cfg.freeze_unauthenticated else None,
        ),
        stores.remote_media,
        blobs,
        thumbnails,
        MediaFetcher(client) if client is not None else None,
        clock,
    )
    media = MediaService(
        settings, stores.media, blobs, thumbnails, shared.limiter, clock, remote=remote
    )
    return MediaServices(
        media=media,
        media_admin=MediaAdminService(
            config.server_name,
            stores.media,
            blobs,
            clock,
            cfg.url_preview.cache_ms,
            remote=stores.remote_media,
        ),
        url_previews=_url_previews(config, stores, shared, media),
    )


def _url_previews(
    config: Config, stores: Stores, shared: Shared, media: MediaService
) -> UrlPreviewService:
    cfg = config.media
    preview = cfg.url_preview
    fetcher = SafeFetcher(
        IpPolicy(tuple(ipaddress.ip_network(n) for n in preview.allowed_ip_ranges)),
        FetchLimits(max_bytes=preview.max_page_bytes, timeout_s=preview.timeout_ms / 1000),
    )
    return UrlPreviewService(
        UrlPreviewSettings(
            enabled=preview.enabled,
            cache_ms=preview.cache_ms,
            max_image_bytes=min(preview.max_page_bytes, cfg.max_upload_bytes),
            limit=cfg.upload_rate,
        ),
        fetcher,
        stores.media,
        media,
        shared.limiter,
        shared.clock,
    )

"""The retention domain's stores and the server's retention policy, from the database and the
config. The stores hold no caches and are built here, next to the rooms domain's read paths
that need them (`rooms.expiry`) and the retention domain's jobs."""

from __future__ import annotations

from dataclasses import dataclass

from core.retention import RetentionLimits
from homeserver.config import Config
from homeserver.storage.database import Database
from homeserver.storage.retention.lifetimes import LifetimeStore
from homeserver.storage.retention.purge import PurgeStore
from homeserver.storage.retention.tracking import TrackingStore

__all__ = ["RetentionStores", "retention_limits", "retention_stores"]


@dataclass(frozen=True, slots=True)
class RetentionStores:
    """The retention domain's stores."""

    tracking: TrackingStore
    purges: PurgeStore
    lifetimes: LifetimeStore


def retention_stores(db: Database) -> RetentionStores:
    """The retention stores on `db`."""
    return RetentionStores(TrackingStore(db), PurgeStore(db), LifetimeStore(db))


def retention_limits(config: Config) -> RetentionLimits:
    """The server's retention policy from the `retention` section."""
    cfg = config.retention
    return RetentionLimits(
        enabled=cfg.enabled,
        default_max_lifetime=cfg.default_max_lifetime_ms,
        allowed_min=cfg.allowed_lifetime_min_ms,
        allowed_max=cfg.allowed_lifetime_max_ms,
    )

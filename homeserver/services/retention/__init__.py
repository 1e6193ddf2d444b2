"""Retention: how long messages live (MSC1763 `m.room.retention` within the server's policy),
self-destructing messages, room lifetimes, and the purge that deletes for good.

Which events have expired is decided in the rooms domain (`rooms.expiry`), where every read path
applies it; this domain deletes them. `RetentionServices` groups its services for the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.services.retention.policy import RetentionPolicyJob
from homeserver.services.retention.purger import Purger
from homeserver.services.retention.room_lifetimes import RoomLifetimes
from homeserver.services.retention.self_destruct import SelfDestructJob
from homeserver.services.retention.service import RetentionService
from homeserver.services.retention.tracker import RetentionTracker

__all__ = ["RetentionServices"]


@dataclass(frozen=True, slots=True)
class RetentionServices:
    """The retention domain's services.

    Attributes:
        service: The endpoints' service and the periodic job (policy purge, room lifetimes).
        tracker: Records the media each event names and self-destruct timers.
        self_destruct: Fires self-destruct timers.
        purger: Deletes events' content and what derives from it.
        policy: The retention policy purge and its counters.
        rooms: Direct-message room lifetimes and room deletion.
        enabled: Whether the retention policy applies (`retention.enabled`).
    """

    service: RetentionService
    tracker: RetentionTracker
    self_destruct: SelfDestructJob
    purger: Purger
    policy: RetentionPolicyJob
    rooms: RoomLifetimes
    enabled: bool

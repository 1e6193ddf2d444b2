"""Wiring moderation: the telemetry buffer, the IP blocklist and the followed policy rooms.

Built once the other services exist (it reads rooms' state and resolves aliases through them).
Its one reaction, a persisted event waking the policy-room follower, is connected here beside
the build because the service lives beside `Services` (under the app key `MODERATION`), not in
it; `subscriptions()` holds every other reaction.
"""

from __future__ import annotations

from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.services.container import Services
from homeserver.services.moderation.ip_blocks import IpBlockService
from homeserver.services.moderation.policy_rooms import PolicyListService
from homeserver.services.moderation.service import ModerationService
from homeserver.services.moderation.telemetry import TelemetryLog
from homeserver.storage.factory import Stores
from homeserver.storage.moderation.ip_blocks import IpBlockStore

__all__ = ["build_moderation"]


def build_moderation(
    config: Config, stores: Stores, services: Services, clock: Clock
) -> ModerationService:
    """The moderation service, its policy follower connected to persisted events."""
    ip_blocks = IpBlockService(IpBlockStore(stores.db), clock)
    policy = PolicyListService(
        config.moderation.policy_rooms, services.events, services.directory, ip_blocks, clock
    )
    services.events.persisted.connect(policy.on_event_persisted)
    return ModerationService(
        server_name=config.server_name,
        telemetry=TelemetryLog(config.moderation.telemetry_buffer),
        ip_blocks=ip_blocks,
        policy=policy,
        users=stores.users,
        clock=clock,
    )

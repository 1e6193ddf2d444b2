"""Wiring the push domain: push rules and unread notification counts."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.app.wiring.shared import Shared
from homeserver.services.push.rules import PushRuleService
from homeserver.services.push.unread_counts import NotificationService
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.expiry import EventExpiry
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class PushServices:
    """The push domain's services."""

    push_rules: PushRuleService
    notifications: NotificationService


def build_push(
    stores: Stores, shared: Shared, events: EventService, expiry: EventExpiry | None = None
) -> PushServices:
    """Push rules and the position-driven unread-count consumer (expired events never
    notify)."""
    push_rules = PushRuleService(stores.account_data, shared.notifier, shared.caches)
    notifications = NotificationService(
        server_name=shared.server_name,
        store=stores.notifications,
        events=events,
        push_rules=push_rules,
        notifier=shared.notifier,
        clock=shared.clock,
        caches=shared.caches,
        expiry=expiry,
    )
    return PushServices(push_rules=push_rules, notifications=notifications)

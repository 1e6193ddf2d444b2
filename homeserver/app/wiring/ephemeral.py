"""Wiring the ephemeral domain: typing, receipts, presence and to-device messages."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.app.wiring.shared import Shared
from homeserver.services.ephemeral.presence import PresenceService
from homeserver.services.ephemeral.receipts import ReceiptService
from homeserver.services.ephemeral.to_device import ToDeviceService
from homeserver.services.ephemeral.typing import TypingService
from homeserver.storage.factory import Stores


@dataclass(frozen=True, slots=True)
class EphemeralServices:
    """The ephemeral domain's services."""

    typing: TypingService
    receipts: ReceiptService
    presence: PresenceService
    to_device: ToDeviceService


def build_ephemeral(stores: Stores, shared: Shared) -> EphemeralServices:
    """Data that reaches `/sync` outside the room timelines."""
    notifier, clock = shared.notifier, shared.clock
    return EphemeralServices(
        typing=TypingService(notifier, stores.events, clock),
        receipts=ReceiptService(
            stores.receipts, stores.events, stores.account_data, notifier, clock
        ),
        presence=PresenceService(
            stores.presence, notifier, stores.events, clock, server_name=shared.server_name
        ),
        to_device=ToDeviceService(
            server_name=shared.server_name, store=stores.to_device, notifier=notifier, clock=clock
        ),
    )

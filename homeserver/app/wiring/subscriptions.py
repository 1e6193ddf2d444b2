"""Every cross-domain reaction of the homeserver, in one place.

Services own their signals (`services.common.signals.Signal`) and never connect to another
service's; this function does, after every service exists. Reading it tells which domain
reacts to which: add a new reaction here, not inside a service. Each handler is isolated by
the signal, so a failing one is logged and breaks neither the emitter nor the other handlers.
Handlers on `events.persisted` run on the event writer's task and must stay quick; a consumer
that must see every event follows the events stream from its own stored position and treats
the signal only as a wake-up (as `NotificationService.on_event_persisted` does).
"""

from __future__ import annotations

from homeserver.services.container import Services


def subscriptions(services: Services) -> None:
    """Connect every signal handler (once per `Services`)."""
    s = services
    # rooms: a profile change re-sends the user's member events.
    s.profile.changed.connect(lambda change: s.membership.refresh_profile(change.user_id))
    # push: new events wake the unread-count consumer; read receipts clear counts.
    s.events.persisted.connect(s.notifications.on_event_persisted)
    s.receipts.stored.connect(s.notifications.on_receipt)
    # search: new events wake the indexer; a pruned redacted event leaves the index.
    s.events.persisted.connect(s.search_index.on_event_persisted)
    s.redaction.pruned.connect(s.search_index.on_event_pruned)
    # retention: new events are tracked (media they name, self-destruct timers); read
    # receipts start the timers of `org.matrix.self_destruct` messages.
    s.events.persisted.connect(s.retention.tracker.on_event_persisted)
    s.receipts.stored.connect(s.retention.tracker.on_receipt)
    # e2ee: logouts and device edits wake device-list syncs and drop cached key counts.
    s.tokens.devices_removed.connect(lambda change: s.device_lists.notify_changed(change.user_id))
    s.tokens.devices_removed.connect(lambda change: s.e2e_keys.forget_user(change.user_id))
    s.devices.devices_changed.connect(lambda change: s.device_lists.notify_changed(change.user_id))
    # federation: local events, typing, receipts, presence and to-device messages go out.
    outbound = s.federation.outbound
    if outbound is not None:
        s.events.persisted.connect(outbound.on_event_persisted)
        s.typing.changed.connect(outbound.on_typing)
        s.receipts.stored.connect(outbound.on_receipt)
        s.presence.published.connect(outbound.on_presence)
        s.to_device.remote_messages.connect(outbound.on_to_device)
        s.federation.handshakes.accepted.connect(outbound.relay)
    # Our users' device and cross-signing key changes go out to the servers sharing a room.
    if s.federation.device_updates is not None:
        s.device_lists.changed.connect(s.federation.device_updates.on_device_list_changed)
        s.cross_signing.keys_changed.connect(s.federation.device_updates.on_cross_signing_changed)
    # e2ee: joins may leave cached remote device lists behind: they are resynced on next use.
    if s.federation.enabled:
        s.events.persisted.connect(s.remote_devices.on_event_persisted)

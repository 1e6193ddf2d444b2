"""Taking in events outside the timeline: the state and auth chain of a join, the state at a
gap, missing auth events (Server-Server API "Checks performed on receipt of a PDU", steps 1
to 4, without the state checks, which do not apply to outliers).

Each event passes the format, signature and hash checks (`PduVerifier`), then the auth rules
against its own `auth_events`; events are taken in an order where an event's auth events come
first. An event that fails auth is stored as rejected; one whose auth events are nowhere to be
found, or that fails the format or signature checks, is not stored at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.auth_base import AuthError
from core.auth_rules import check_auth, check_auth_events_selection
from core.errors import JsonDict
from core.event_types import M_ROOM_CREATE
from core.events import Pdu
from core.identifiers import EventId
from core.room_versions import RoomVersion
from homeserver.clock import Clock
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.remote_events import OUTLIER, REJECTED, RemoteEventStore

__all__ = ["OutlierIntake", "auth_ids_of", "check_own_auth"]

logger = logging.getLogger(__name__)


def auth_ids_of(pdu: Pdu) -> list[EventId]:
    """The events that authorise `pdu`: its `auth_events`, and in v12 the create event its
    room ID names."""
    ids = list(pdu.auth_event_ids)
    if pdu.room_version.room_id_from_create_event and pdu.type != M_ROOM_CREATE:
        ids.append(EventId("$" + pdu.room_id[1:]))
    return ids


def check_own_auth(pdu: Pdu, auth: dict[EventId, Pdu]) -> str | None:
    """Why `pdu` fails the auth rules against its own auth events (`auth` holds at least
    those we accept), or None when it passes."""
    if pdu.type == M_ROOM_CREATE:
        try:
            check_auth(pdu, {})
        except AuthError as exc:
            return exc.message
        return None
    listed = []
    for event_id in pdu.auth_event_ids:
        found = auth.get(event_id)
        if found is None:
            return f"auth event {event_id} is rejected or unknown"
        listed.append(found)
    create = auth.get(EventId("$" + pdu.room_id[1:]))
    try:
        keyed = check_auth_events_selection(pdu, listed, create=create)
        check_auth(pdu, keyed)
    except AuthError as exc:
        return exc.message
    return None


class OutlierIntake:
    """Checks and stores events that are not (yet) part of the timeline."""

    def __init__(
        self,
        *,
        verifier: PduVerifier,
        events: EventService,
        remote_store: RemoteEventStore,
        clock: Clock,
    ) -> None:
        self._verifier = verifier
        self._events = events
        self._remote = remote_store
        self._clock = clock

    async def accept(
        self, raws: Sequence[JsonDict], version: RoomVersion, *, graph_limits: bool = True
    ) -> dict[EventId, Pdu]:
        """Check and store `raws` as outliers; returns those accepted (not rejected) or
        already held, by event ID (`graph_limits` as in `PduVerifier.verify`)."""
        checked: dict[EventId, Pdu] = {}
        for raw in raws:
            try:
                pdu = await self._verifier.verify(raw, version, graph_limits=graph_limits)
            except PduDropped as exc:
                logger.info("outlier dropped error=%s", exc)
                continue
            checked[pdu.event_id] = pdu
        held = await self._remote.statuses(checked)
        accepted = {
            p.event_id: p for p in await self._events.get_pdus([e for e in checked if e in held])
        }
        pending = {e: p for e, p in checked.items() if e not in held}
        known = await self._known_auth(list(pending.values()), accepted)
        stored: list[tuple[Pdu, str, str | None]] = []
        progress = True
        while pending and progress:
            progress = False
            for event_id, pdu in list(pending.items()):
                needed = auth_ids_of(pdu)
                if any(a in pending for a in needed):
                    continue  # its auth events come first
                del pending[event_id]
                progress = True
                reason = check_own_auth(pdu, known)
                stored.append((pdu, REJECTED if reason else OUTLIER, reason))
                if reason is None:
                    known[event_id] = accepted[event_id] = pdu
        await self._remote.put_outliers(stored, self._clock.time_ms())
        return accepted

    async def _known_auth(
        self, pdus: Sequence[Pdu], batch: dict[EventId, Pdu]
    ) -> dict[EventId, Pdu]:
        """The held events the batch names as auth events, plus the batch's held events."""
        wanted = {a for p in pdus for a in auth_ids_of(p)}
        found = {p.event_id: p for p in await self._events.get_pdus(list(wanted))}
        return {**found, **batch}

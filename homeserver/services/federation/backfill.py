"""Fetching a room's older history from other servers (Server-Server API "Backfilling and
retrieving missing events"), when a local user pages back past the earliest event we hold.

Where our history ends: the prev events of the room's lowest timeline events that we have
not placed (looked at from the bottom up to the first event whose prev events are all placed,
so a gap higher up, filled by `/state_ids`, is not mistaken for the edge). Those backward
extremities go in one bounded `/backfill` to a server in the room (the creator's first, then
the others), and what comes back is checked like any PDU from another server: format,
signatures and content hash, auth against its own auth events (missing ones fetched from the
same server, a few rounds deep), then auth against the state before it: the state after its
prev events when we hold them all (from this batch or our timeline), else the state the
server gives for it with `/state_ids` (the batch's oldest events, or one whose prev event
failed the checks), its events fetched and checked.

Events that pass are placed under the timeline oldest first (`storage.rooms.history`): room
state, memberships and forward extremities do not change and no `/sync` wakes. An event that
fails is not placed; so history ends there for this server, rather than showing a forgery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Final

from core.auth_base import AuthError
from core.auth_rules import check_auth
from core.errors import JsonDict, MatrixError
from core.event_types import M_ROOM_CREATE, Membership
from core.events import Pdu
from core.identifiers import EventId, RoomId, ServerName, server_name_of
from core.room_versions import RoomVersion
from federation.errors import FederationError
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.outliers import auth_ids_of
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier, event_id_of
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.federation.room_state import with_event
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.events import EventStore, StateIds
from homeserver.storage.rooms.history import HistoryEvent, HistoryStore
from homeserver.storage.rooms.remote_events import (
    ACCEPTED,
    OUTLIER,
    REJECTED,
    SOFT_FAILED,
    RemoteEventStore,
)

__all__ = ["RoomBackfill"]

logger = logging.getLogger(__name__)

MIN_BATCH: Final = 20
MAX_BATCH: Final = 100
"""Events asked for with one `/backfill`."""
EDGE_SCAN: Final = 50
"""The lowest timeline events looked at for prev events we lack."""
MAX_EXTREMITIES: Final = 20
MAX_SERVERS: Final = 5
ASK_DEADLINE_S: Final = 20.0
"""How long one fill waits for `/backfill` answers in all (a client's page waits on it)."""
AUTH_ROUNDS: Final = 3
MAX_AUTH_FETCH: Final = 100
"""Auth events fetched one by one for one batch, over at most `AUTH_ROUNDS` rounds."""
_PLACED: Final = (ACCEPTED, REJECTED, SOFT_FAILED)
"""Statuses of prev events that need no backfilling (rejected and soft-failed events never
enter the timeline)."""


class RoomBackfill:
    """Fills a room's history from before our earliest event, one batch at a time."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        events: EventService,
        store: EventStore,
        history: HistoryStore,
        remote_store: RemoteEventStore,
        inbound: InboundEvents,
        verifier: PduVerifier,
        requests: RemoteRequests | None,
    ) -> None:
        self._server_name = server_name
        self._events = events
        self._store = store
        self._history = history
        self._remote = remote_store
        self._inbound = inbound
        self._verifier = verifier
        self._requests = requests
        self._locks: dict[RoomId, asyncio.Lock] = {}

    async def backward_extremities(self, room_id: RoomId) -> list[EventId]:
        """The events just before our history of the room that we have not placed."""
        wanted: list[EventId] = []
        for raw in await self._history.oldest_events(room_id, EDGE_SCAN):
            prevs = [EventId(p) for p in _strings(raw.get("prev_events"))]
            held = await self._remote.statuses(prevs)
            missing = [p for p in prevs if held.get(p) not in _PLACED]
            if not missing:
                break
            wanted.extend(missing)
        return list(dict.fromkeys(wanted))[:MAX_EXTREMITIES]

    async def fill(self, room_id: RoomId, wanted: int) -> bool:
        """Fetch one batch of the room's older events from a server in it and place those
        that pass the checks under the timeline; whether any were placed."""
        if self._requests is None:
            return False
        async with self._locks.setdefault(room_id, asyncio.Lock()):
            extremities = await self.backward_extremities(room_id)
            version = await self._inbound.room_version(room_id)
            if not extremities or version is None:
                return False
            limit = max(MIN_BATCH, min(wanted, MAX_BATCH))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + ASK_DEADLINE_S
            for server in await self.servers(room_id):
                try:
                    async with asyncio.timeout_at(deadline):
                        raws = await self._requests.backfill(server, room_id, extremities, limit)
                except (FederationError, TimeoutError) as exc:
                    logger.info(
                        "backfill failed server=%s room_id=%s error=%r", server, room_id, exc
                    )
                    continue
                if await self._take(server, room_id, version, raws) > 0:
                    return True
            return False

    async def servers(self, room_id: RoomId) -> list[ServerName]:
        """The other servers in the room, the creator's first (it has all the history)."""
        joined = await self._store.room_members(room_id, Membership.JOIN)
        servers = sorted({server_name_of(u) for u in joined} - {self._server_name})
        create_id = (await self._events.current_state(room_id)).get((M_ROOM_CREATE, ""))
        creates = await self._events.get_pdus([create_id]) if create_id is not None else []
        if creates and server_name_of(creates[0].sender) in servers:
            first = server_name_of(creates[0].sender)
            servers = [first, *(s for s in servers if s != first)]
        return servers[:MAX_SERVERS]

    async def fetch_event(
        self, origin: ServerName, room_id: RoomId, event_id: EventId
    ) -> Pdu | None:
        """One event of the room from `origin` (`/event`), checked and kept as an outlier
        with the auth events it needs; None if it does not check out."""
        version = await self._inbound.room_version(room_id)
        if version is None:
            return None
        held = await self._events.get_pdus([event_id])
        if held:
            return held[0] if held[0].room_id == room_id else None
        checked = [
            p
            for p in await self._verified(
                origin, await self._inbound.fetch(origin, [event_id]), version
            )
            if p.event_id == event_id and p.room_id == room_id
        ]
        if not checked:
            return None
        fetched = await self._auth_closure(origin, checked, version)
        accepted = await self._inbound.outliers.accept([*fetched, checked[0].raw], version)
        return accepted.get(event_id)

    async def _take(
        self, origin: ServerName, room_id: RoomId, version: RoomVersion, raws: list[JsonDict]
    ) -> int:
        """Check a `/backfill` answer and place what passes; how many were placed."""
        fresh: dict[EventId, JsonDict] = {}
        for raw in raws:
            try:
                event_id = EventId(event_id_of(raw, version))
            except PduDropped:
                continue
            if Pdu(raw, event_id, version).room_id == room_id:  # v12: a create has none
                fresh[event_id] = raw
        held = await self._remote.statuses(fresh)
        fresh = {e: raw for e, raw in fresh.items() if held.get(e) in (None, OUTLIER)}
        checked = await self._verified(origin, list(fresh.values()), version, graph_limits=False)
        fetched = await self._auth_closure(origin, checked, version)
        accepted = await self._inbound.outliers.accept(
            [*fetched, *(p.raw for p in checked)], version, graph_limits=False
        )
        batch = sorted(
            (accepted[e] for e in fresh if e in accepted), key=lambda p: (p.depth, p.event_id)
        )
        after: dict[EventId, StateIds] = {}
        placing: list[HistoryEvent] = []
        for pdu in batch:
            item = await self._checked_against_state(origin, pdu, after)
            if item is not None:
                after[pdu.event_id] = with_event(item.before, pdu)
                placing.append(item)
        return await self._history.place(placing)

    async def _verified(
        self,
        origin: ServerName,
        raws: Sequence[JsonDict],
        version: RoomVersion,
        *,
        graph_limits: bool = True,
    ) -> list[Pdu]:
        checked: list[Pdu] = []
        for raw in raws:
            try:
                checked.append(await self._verifier.verify(raw, version, graph_limits=graph_limits))
            except PduDropped as exc:
                logger.info("backfilled event dropped origin=%s error=%s", origin, exc)
        return checked

    async def _auth_closure(
        self, origin: ServerName, pdus: Sequence[Pdu], version: RoomVersion
    ) -> list[JsonDict]:
        """The auth events `pdus` need that we do not hold, fetched from `origin` (and theirs,
        a few rounds deep, within a budget)."""
        known = {p.event_id for p in pdus}
        fetched: list[JsonDict] = []
        frontier = list(pdus)
        budget = MAX_AUTH_FETCH
        for _ in range(AUTH_ROUNDS):
            needed = {a for p in frontier for a in auth_ids_of(p)} - known
            held = await self._remote.statuses(needed)
            missing = sorted(e for e in needed if e not in held)[:budget]
            known |= needed
            if not missing:
                break
            budget -= len(missing)
            raws = await self._inbound.fetch(origin, missing)
            frontier = await self._verified(origin, raws, version)
            fetched.extend(p.raw for p in frontier)
        return fetched

    async def _checked_against_state(
        self, origin: ServerName, pdu: Pdu, after: Mapping[EventId, StateIds]
    ) -> HistoryEvent | None:
        """`pdu` with the state before it, if it passes the auth rules against that state."""
        found = await self._state_before(origin, pdu, after)
        if found is None:
            logger.info("backfilled event not placed event_id=%s: state unknown", pdu.event_id)
            return None
        before, base = found
        try:
            check_auth(pdu, await self._inbound.states.pdu_map(before))
        except AuthError as exc:
            logger.info("backfilled event not placed event_id=%s: %s", pdu.event_id, exc.message)
            return None
        return HistoryEvent(pdu, before, base)

    async def _state_before(
        self, origin: ServerName, pdu: Pdu, after: Mapping[EventId, StateIds]
    ) -> tuple[StateIds, EventId | None] | None:
        """The state before `pdu`: resolved from the states after its prev events when we
        hold them all (in this batch or our timeline; rejected ones left out), else as
        `origin` tells it; with the prev event whose state after it is, when it has one
        placed prev event."""
        prevs = list(pdu.prev_event_ids)
        if pdu.type == M_ROOM_CREATE and not prevs:
            return {}, None
        held = await self._remote.statuses([p for p in prevs if p not in after])
        if any(p not in after and held.get(p) not in _PLACED for p in prevs):
            # The state before it as `origin` tells it, the events we lack fetched and checked.
            told = await self._inbound.told_state(
                origin, pdu.room_id, pdu.room_version, pdu.event_id
            )
            return (told[0], None) if told is not None else None
        sets: list[StateIds] = []
        for prev in prevs:
            if prev in after:
                sets.append(dict(after[prev]))
            elif held[prev] != REJECTED:
                state = await self._inbound.states.state_after(prev)
                if state is None:
                    return None
                sets.append(state)
        if not sets:
            return None
        try:
            before = await self._inbound.states.resolve(pdu.room_version, sets)
        except MatrixError as exc:
            logger.info("backfilled event state unresolved event_id=%s: %s", pdu.event_id, exc)
            return None
        single = prevs[0] if len(prevs) == 1 else None
        placed = single is not None and (single in after or held.get(single) == ACCEPTED)
        return before, single if placed else None


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

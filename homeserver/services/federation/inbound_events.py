"""The inbound PDU pipeline (Server-Server API "Checks performed on receipt of a PDU"),
the `InboundPdus` of the transaction handler.

Per PDU, in the spec's order: the room and its version must be known here, and its server ACL
must allow the origin (else the PDU is answered with an error and nothing is stored); format,
size and signatures (else dropped, `pdu_checks`); content hash (redacted on mismatch); auth
against its own `auth_events` (missing ones fetched from the origin, `outliers`); auth against
the state before it, which is the state after its `prev_events`, resolved when there are
several (missing prev events are asked for with `get_missing_events`, then the state at the
gap with `/state_ids`); and a soft-fail check against the room's current state. An accepted
redaction is then applied to its target, if we hold it and its sender may redact it.

Invariants: a rejected event is stored as rejected (never used as auth or state), a
soft-failed one as soft-failed (never in the timeline or current state); room state changes
only through an accepted event. One PDU never fails the others, and nothing here raises to
the transaction handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

from core.auth_base import AuthError
from core.auth_rules import check_auth
from core.errors import M_NOT_FOUND, JsonDict, MatrixError
from core.event_types import M_ROOM_REDACTION
from core.events import Pdu
from core.identifiers import EventId, RoomId, ServerName
from core.room_versions import RoomVersion, get_room_version
from federation.errors import FederationError
from homeserver.clock import Clock
from homeserver.services.federation.outliers import OutlierIntake, auth_ids_of, check_own_auth
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier, event_id_of
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.federation.room_state import RoomStates, with_event
from homeserver.services.federation.server_acls import ServerAcls
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.redaction import RedactionService
from homeserver.storage.rooms.events import EventStore, RemoteState, StateIds
from homeserver.storage.rooms.remote_events import (
    ACCEPTED,
    REJECTED,
    SOFT_FAILED,
    RemoteEventStore,
)

__all__ = ["InboundEvents"]

logger = logging.getLogger(__name__)

MAX_MISSING: Final = 20
"""Events asked for with one `get_missing_events`."""
MAX_GAP_FETCH: Final = 500
"""Events fetched one by one to learn a state another server tells (at a gap, or before a
backfilled event); a state that needs more is given up."""
_FETCH_CONCURRENCY: Final = 10
_VERSIONS_KEPT: Final = 10_000


class InboundEvents:
    """Checks PDUs from other servers and persists those that pass."""

    def __init__(
        self,
        *,
        events: EventService,
        store: EventStore,
        remote_store: RemoteEventStore,
        verifier: PduVerifier,
        requests: RemoteRequests | None,
        acls: ServerAcls,
        redactions: RedactionService,
        clock: Clock,
    ) -> None:
        self._events = events
        self._redactions = redactions
        self.acls = acls
        self._store = store
        self._remote = remote_store
        self._verifier = verifier
        self._requests = requests
        self._clock = clock
        self._versions: dict[str, RoomVersion] = {}
        self._states = RoomStates(events=events, remote_store=remote_store)
        self.outliers = OutlierIntake(
            verifier=verifier, events=events, remote_store=remote_store, clock=clock
        )

    @property
    def states(self) -> RoomStates:
        """State lookups and resolution."""
        return self._states

    async def handle_transaction_pdus(
        self, origin: ServerName, pdus: list[JsonDict]
    ) -> dict[str, str | None]:
        """Check and persist the PDUs of a transaction; `{event_id: None | reason}`."""
        results: dict[str, str | None] = {}
        for raw in pdus:
            try:
                event_id, error = await self._receive(origin, raw)
            except Exception:  # one PDU never fails the transaction
                logger.exception("inbound PDU failed origin=%s", origin)
                continue
            if event_id is not None:
                results[event_id] = error
        return results

    async def room_version(self, room_id: object) -> RoomVersion | None:
        """The version of a room we know, if we support it."""
        if not isinstance(room_id, str):
            return None
        known = self._versions.get(room_id)
        if known is not None:
            return known
        identifier = await self._store.room_version(RoomId(room_id))
        version = get_room_version(identifier) if identifier is not None else None
        if version is not None:  # a room's version never changes; unknown rooms may appear
            if len(self._versions) >= _VERSIONS_KEPT:
                self._versions.clear()
            self._versions[room_id] = version
        return version

    async def _receive(self, origin: ServerName, raw: JsonDict) -> tuple[str | None, str | None]:
        version = await self.room_version(raw.get("room_id"))
        if version is None:
            fallback = get_room_version("11")
            try:
                named = event_id_of(raw, fallback) if fallback is not None else None
            except PduDropped:
                named = None
            return named, "unknown room or room version"
        try:
            event_id = event_id_of(raw, version)
        except PduDropped:
            return None, None
        if not await self.acls.allows(origin, raw.get("room_id")):
            return event_id, "the room's server ACL denies the origin"
        try:
            pdu = await self._verifier.verify(raw, version)
        except PduDropped as exc:
            logger.info("PDU dropped origin=%s event_id=%s error=%s", origin, event_id, exc)
            return event_id, str(exc)
        return event_id, await self.process(origin, pdu, fill_gaps=True)

    async def process(self, origin: ServerName, pdu: Pdu, *, fill_gaps: bool) -> str | None:
        """Take a verified PDU into its room: None when accepted, soft-failed or already
        held, else why it was rejected or could not be placed."""
        status = (await self._remote.statuses([pdu.event_id])).get(pdu.event_id)
        if status is not None:
            return "rejected" if status == REJECTED else None
        auth = await self._auth_events(origin, pdu)
        reason = check_own_auth(pdu, auth)
        if reason is not None:
            return await self._reject(pdu, reason)
        before = await self._state_before(origin, pdu, fill_gaps=fill_gaps)
        if before is None:
            return "the state before the event could not be found"
        try:
            check_auth(pdu, await self._states.pdu_map(before))
        except AuthError as exc:
            return await self._reject(pdu, exc.message)
        async with self._events.room_lock(pdu.room_id):
            return await self._append(pdu, before)

    async def _reject(self, pdu: Pdu, reason: str) -> str:
        logger.info("PDU rejected event_id=%s reason=%s", pdu.event_id, reason)
        await self._remote.put_outliers([(pdu, REJECTED, reason)], self._clock.time_ms())
        return f"rejected: {reason}"

    async def _auth_events(self, origin: ServerName, pdu: Pdu) -> dict[EventId, Pdu]:
        """The accepted events among `pdu`'s auth events, missing ones fetched from `origin`."""
        ids = auth_ids_of(pdu)
        found = {p.event_id: p for p in await self._events.get_pdus(ids)}
        missing = [e for e in ids if e not in found]
        if missing and self._requests is not None:
            held = await self._remote.statuses(missing)
            wanted = [e for e in missing if e not in held]
            raws = await self.fetch(origin, wanted)
            found.update(await self.outliers.accept(raws, pdu.room_version))
        return found

    async def fetch(self, origin: ServerName, event_ids: list[EventId]) -> list[JsonDict]:
        """The PDUs `origin` gives for `event_ids` (those it fails to give are left out)."""
        requests = self._requests
        if requests is None:
            return []
        limit = asyncio.Semaphore(_FETCH_CONCURRENCY)

        async def one(event_id: EventId) -> JsonDict | None:
            async with limit:
                try:
                    return await requests.event(origin, event_id)
                except FederationError as exc:
                    logger.info("event fetch failed origin=%s error=%s", origin, exc)
                    return None

        fetched = await asyncio.gather(*(one(e) for e in event_ids))
        return [raw for raw in fetched if raw is not None]

    async def state_before(self, origin: ServerName, pdu: Pdu) -> StateIds:
        """The state before an event whose prev events we hold (no gap filling).

        Raises:
            MatrixError: `M_NOT_FOUND` if that state cannot be computed here.
        """
        state = await self._state_before(origin, pdu, fill_gaps=False)
        if state is None:
            raise MatrixError(M_NOT_FOUND, "The state at that event is not known here")
        return state

    async def _state_before(
        self, origin: ServerName, pdu: Pdu, *, fill_gaps: bool
    ) -> StateIds | None:
        """The state before `pdu`, from the states after its prev events."""
        prevs = list(pdu.prev_event_ids)
        held = await self._remote.statuses(prevs)
        if fill_gaps and any(p not in held for p in prevs):
            await self._fill_from_missing_events(origin, pdu)
            held = await self._remote.statuses(prevs)
        sets: list[StateIds] = []
        for prev in prevs:
            state: StateIds | None = None
            if held.get(prev) in (ACCEPTED, SOFT_FAILED):
                state = await self._states.state_after(prev)
            elif held.get(prev) == REJECTED:
                continue
            elif fill_gaps:
                state = await self.state_at_gap(origin, pdu, prev)
            if state is None:
                return None
            sets.append(state)
        if not sets:
            return None
        try:
            return await self._states.resolve(pdu.room_version, sets)
        except MatrixError as exc:
            logger.info("state before unknown event_id=%s error=%s", pdu.event_id, exc.message)
            return None

    async def _fill_from_missing_events(self, origin: ServerName, pdu: Pdu) -> None:
        """Ask `origin` for the events between our extremities and `pdu`, and take them in
        oldest first (without filling further gaps)."""
        if self._requests is None:
            return
        head = await self._events.room_head(pdu.room_id)
        try:
            raws = await self._requests.missing_events(
                origin, pdu.room_id, head.prev_event_ids, [pdu.event_id], MAX_MISSING
            )
        except FederationError as exc:
            logger.info("get_missing_events failed origin=%s error=%s", origin, exc)
            return
        checked: list[Pdu] = []
        for raw in raws:
            try:
                checked.append(await self._verifier.verify(raw, pdu.room_version))
            except PduDropped as exc:
                logger.info("missing event dropped origin=%s error=%s", origin, exc)
        for event in sorted(checked, key=lambda p: p.depth):
            if event.room_id == pdu.room_id:
                await self.process(origin, event, fill_gaps=False)

    async def state_at_gap(self, origin: ServerName, pdu: Pdu, prev: EventId) -> StateIds | None:
        """The state after `prev` as `origin` tells it (`/state_ids`), its events checked."""
        told = await self.told_state(origin, pdu.room_id, pdu.room_version, prev, also=[prev])
        prev_pdu = told[1].get(prev) if told is not None else None
        if told is None or prev_pdu is None:
            return None
        return with_event(told[0], prev_pdu)

    async def told_state(
        self,
        origin: ServerName,
        room_id: RoomId,
        version: RoomVersion,
        at: EventId,
        *,
        also: Sequence[EventId] = (),
    ) -> tuple[StateIds, dict[EventId, Pdu]] | None:
        """The state before `at` as `origin` tells it (`/state_ids`), with the events read for
        it by ID: those we lack (and `also`) fetched from `origin`, checked and kept as
        outliers. None when `origin` cannot be asked or more than `MAX_GAP_FETCH` events are
        missing."""
        if self._requests is None:
            return None
        try:
            state_ids, chain_ids = await self._requests.state_ids(origin, room_id, at)
        except FederationError as exc:
            logger.info("state_ids failed origin=%s at=%s error=%s", origin, at, exc)
            return None
        needed = [EventId(e) for e in dict.fromkeys([*chain_ids, *state_ids, *also])]
        held = await self._remote.statuses(needed)
        unknown = [e for e in needed if e not in held]
        if len(unknown) > MAX_GAP_FETCH:
            return None
        await self.outliers.accept(await self.fetch(origin, unknown), version)
        found = {p.event_id: p for p in await self._events.get_pdus(needed)}
        state: StateIds = {}
        for event_id in state_ids:
            event = found.get(EventId(event_id))
            pair = event.state_pair() if event is not None else None
            if event is not None and pair is not None:
                state[pair] = event.event_id
        return state, found

    async def _append(self, pdu: Pdu, before: StateIds) -> str | None:
        """Soft-fail check against the current state, then persist (room lock held)."""
        head = await self._events.room_head(pdu.room_id)
        current = await self._events.current_state(pdu.room_id)
        after = with_event(before, pdu)
        if set(pdu.prev_event_ids) != set(head.prev_event_ids):
            try:
                check_auth(pdu, await self._states.pdu_map(current))
            except AuthError as exc:
                logger.info("PDU soft-failed event_id=%s reason=%s", pdu.event_id, exc.message)
                await self._remote.put_soft_failed(pdu, after, self._clock.time_ms())
                return None
        others = [e for e in head.prev_event_ids if e not in pdu.prev_event_ids]
        resolved: StateIds | None = None
        if others:
            sets = [after]
            for other in others:
                state = await self._states.state_after(other)
                if state is not None:
                    sets.append(state)
            resolved = await self._states.resolve(pdu.room_version, sets, pending=[pdu])
        remote = await self.remote_state(pdu, before, resolved or after, current, resolved)
        group = await self._states.group_holding(pdu.prev_event_ids, before)
        await self._events.persist_remote(pdu, replace(remote, before_group=group))
        if pdu.type == M_ROOM_REDACTION:
            await self._redactions.apply_remote(pdu)
        return None

    async def remote_state(
        self,
        pdu: Pdu,
        before: StateIds,
        new_current: StateIds,
        current: StateIds,
        resolved: StateIds | None,
        known: Mapping[EventId, Pdu] | None = None,
    ) -> RemoteState:
        """How `pdu` changes its room: the entries of `new_current` that differ from `current`
        (read from storage unless they are among the events `known` already)."""
        held = known or {}
        changed_ids = [e for k, e in new_current.items() if current.get(k) != e]
        missing = [e for e in changed_ids if e not in held and e != pdu.event_id]
        loaded = {p.event_id: p for p in await self._events.get_pdus(missing)} if missing else {}
        changed = [
            found
            for e in changed_ids
            if e != pdu.event_id and (found := held.get(e, loaded.get(e))) is not None
        ]
        if pdu.event_id in changed_ids:
            changed.append(pdu)
        return RemoteState(before=before, changed=changed, current=resolved)

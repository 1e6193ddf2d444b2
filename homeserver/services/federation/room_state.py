"""The state of a room at an event, for events from other servers: the state after events
we hold, and state resolution (`core.state_res`) when several states meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from core.errors import M_UNKNOWN, MatrixError
from core.events import Pdu
from core.identifiers import EventId
from core.room_versions import RoomVersion
from core.state_res import MissingEventsError, missing_auth_events, resolve_state
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.events import StateIds, StateKey
from homeserver.storage.rooms.remote_events import RemoteEventStore

__all__ = ["RoomStates", "with_event"]

_MAX_LOAD_ROUNDS = 64


def with_event(state: Mapping[StateKey, EventId], pdu: Pdu) -> StateIds:
    """`state` with `pdu` applied (a copy)."""
    after = dict(state)
    pair = pdu.state_pair()
    if pair is not None:
        after[pair] = pdu.event_id
    return after


class RoomStates:
    """Reads states after events and resolves them."""

    def __init__(self, *, events: EventService, remote_store: RemoteEventStore) -> None:
        self._events = events
        self._remote = remote_store

    async def state_after(self, event_id: EventId) -> StateIds | None:
        """The state after an accepted or soft-failed event we hold; None otherwise."""
        group = await self.group_after(event_id)
        if group is None:
            return None
        return await self._events.state_ids_for_group(group)

    async def group_after(self, event_id: EventId) -> int | None:
        """The state group after an accepted or soft-failed event we hold; None otherwise."""
        group = await self._events.state_group_of(event_id)
        if group is None:
            group = await self._remote.outlier_state_group(event_id)
        return group

    async def group_holding(self, prev_ids: Sequence[EventId], state: StateIds) -> int | None:
        """The group after the single prev event, if it holds exactly `state` (an event on one
        branch builds on it rather than writing the whole state again); None otherwise."""
        if len(prev_ids) != 1:
            return None
        group = await self.group_after(prev_ids[0])
        if group is None or await self._events.state_ids_for_group(group) != state:
            return None
        return group

    async def pdu_map(self, state: Mapping[StateKey, EventId]) -> dict[StateKey, Pdu]:
        """The events of a state map, keyed like it (events we cannot read are left out)."""
        by_id = {p.event_id: p for p in await self._events.get_pdus(list(state.values()))}
        return {key: by_id[e] for key, e in state.items() if e in by_id}

    async def resolve(
        self, version: RoomVersion, sets: Sequence[StateIds], pending: Iterable[Pdu] = ()
    ) -> StateIds:
        """The resolution of `sets` (the one set itself when there is one).

        Args:
            version: The room's version.
            sets: The states to resolve.
            pending: Events the sets may name that are not stored yet (the event being
                taken in, whose state after it is one of the sets).

        Raises:
            MatrixError: `M_UNKNOWN` if an event the resolution needs is not held here.
        """
        if len(sets) == 1:
            return dict(sets[0])
        loaded: dict[str, Pdu] = {p.event_id: p for p in pending}
        await self._load(loaded, {e for s in sets for e in s.values()})
        for _ in range(_MAX_LOAD_ROUNDS):
            missing = missing_auth_events(sets, loaded)
            if not missing:
                break
            if not await self._load(loaded, missing):
                break
        try:
            return dict(resolve_state(version, sets, loaded))
        except MissingEventsError as exc:
            raise MatrixError(M_UNKNOWN, f"state resolution lacks {exc}") from None

    async def _load(self, loaded: dict[str, Pdu], ids: Iterable[str]) -> bool:
        wanted = [EventId(e) for e in ids if e not in loaded]
        found = await self._events.get_pdus(wanted)
        loaded.update({p.event_id: p for p in found})
        return bool(found)

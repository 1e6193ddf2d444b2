"""Following the policy rooms named in the configuration (`moderation.policy_rooms`).

The rules are read from each room's current state at start-up and again whenever a state event
or a redaction of that room is persisted (from a local client or over federation), so a rule
added or removed takes effect as soon as its event is written; IP rules become blocks of
`IpBlockService` (source `policy:ROOM_ID`). Aliases are resolved at start-up and, while they
point nowhere, every `retry_s` seconds, so a policy room created after the server started is
picked up.

Invariant: the rules in force are exactly those of the followed rooms' current state; a
refresh replaces them whole, so an emptied or redacted rule is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from core.errors import MatrixError
from core.identifiers import RoomId, parse_room_id
from homeserver.clock import Clock
from homeserver.services.moderation.ip_blocks import IpBlock, IpBlockService
from homeserver.services.moderation.policy import PolicyRule, PolicyRules, parse_rule, rule_kind
from homeserver.services.rooms.directory import DirectoryService
from homeserver.services.rooms.events import EventPersisted, EventService

__all__ = ["PolicyListService"]

logger = logging.getLogger(__name__)

_REDACTION = "m.room.redaction"


class PolicyListService:
    """The ban rules of the followed policy rooms, kept current."""

    def __init__(
        self,
        rooms: Sequence[str],
        events: EventService,
        directory: DirectoryService,
        ip_blocks: IpBlockService,
        clock: Clock,
        retry_s: float = 10.0,
    ) -> None:
        self._configured = tuple(rooms)
        self._events = events
        self._directory = directory
        self._ip_blocks = ip_blocks
        self._clock = clock
        self._retry_s = retry_s
        self._room_ids: set[RoomId] = set()
        self._by_room: dict[RoomId, list[PolicyRule]] = {}
        self._dirty: set[RoomId] = set()
        self._wake = asyncio.Event()
        self.rules = PolicyRules()

    @property
    def room_ids(self) -> frozenset[RoomId]:
        """The policy rooms followed so far."""
        return frozenset(self._room_ids)

    @property
    def _unresolved(self) -> bool:
        return len(self._room_ids) < len(self._configured)

    async def load(self) -> None:
        """Resolve the configured rooms and read their rules."""
        await self._resolve()
        for room_id in list(self._room_ids):
            await self._refresh(room_id)
        self._apply()

    async def on_event_persisted(self, persisted: EventPersisted) -> None:
        """Mark a followed room for a refresh when one of its state events or redactions lands
        (while an alias points nowhere yet, any state event prompts another look at it)."""
        if persisted.room_id not in self._room_ids:
            if persisted.pdu.state_key is not None and self._unresolved:
                self._wake.set()
            return
        if persisted.pdu.state_key is None and persisted.pdu.type != _REDACTION:
            return
        self._dirty.add(persisted.room_id)
        self._wake.set()

    async def run(self) -> None:
        """Refresh marked rooms as they are marked; retry unresolved aliases now and then."""
        while True:
            if self._dirty:
                rooms, self._dirty = self._dirty, set()
                for room_id in rooms:
                    await self._refresh(room_id)
                self._apply()
            if self._unresolved and await self._resolve():
                await self.load()
            self._wake.clear()
            if self._dirty:
                continue
            await self._wait()

    async def _wait(self) -> None:
        woken = asyncio.ensure_future(self._wake.wait())
        slept = asyncio.ensure_future(self._clock.sleep(self._retry_s))
        try:
            await asyncio.wait({woken, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, slept):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _resolve(self) -> bool:
        """Resolve configured rooms not known yet; True if one was newly found."""
        found = False
        for entry in self._configured:
            try:
                room_id = (
                    parse_room_id(entry)
                    if entry.startswith("!")
                    else parse_room_id(str((await self._directory.resolve_alias(entry))["room_id"]))
                )
            except (MatrixError, ValueError, KeyError):
                continue
            if room_id not in self._room_ids:
                self._room_ids.add(room_id)
                found = True
        return found

    async def _refresh(self, room_id: RoomId) -> None:
        try:
            state = await self._events.current_state(room_id)
        except MatrixError:
            self._by_room[room_id] = []  # not a room this server is in (yet)
            return
        ids = [event_id for (kind, _), event_id in state.items() if rule_kind(kind) is not None]
        rules = []
        for pdu in await self._events.get_pdus(ids):
            ts = pdu.raw.get("origin_server_ts")
            rule = parse_rule(
                pdu.type, pdu.content, room_id, pdu.event_id, ts if isinstance(ts, int) else 0
            )
            if rule is not None:
                rules.append(rule)
        self._by_room[room_id] = rules
        logger.info("policy room read room_id=%s rules=%d", room_id, len(rules))

    def _apply(self) -> None:
        self.rules = PolicyRules.of(r for rules in self._by_room.values() for r in rules)
        self._ip_blocks.set_policy_blocks(
            IpBlock(network, rule.ts, None, rule.reason, f"policy:{rule.room_id}")
            for network, rule in self.rules.networks()
        )

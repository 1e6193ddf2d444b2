"""Builders for state resolution scenarios: a room DAG grown along named branches.

A `Dag` holds every event by ID; a `Branch` is one server's view: its state map and its
latest event. Events cite their auth events by the auth events selection over the branch's
state, as a server would, so scenarios read as "who did what, on which side of a fork".
Event IDs are readable names (`$PA`, `$T1`); timestamps count up unless given.
"""

from __future__ import annotations

from typing import Any

from core.auth_base import StateKey
from core.auth_rules import auth_types_for_event
from core.events import Pdu
from core.identifiers import EventId
from core.room_versions import RoomVersion
from core.state_res import resolve_state

ALICE = "@alice:a.test"
BOB = "@bob:b.test"
CAROL = "@carol:c.test"
DAVE = "@dave:d.test"
ZARA = "@zara:z.test"


class Dag:
    """All events of one room, by ID."""

    def __init__(self, version: RoomVersion, create_id: str = "$CREATE") -> None:
        self.version = version
        self.events: dict[str, Pdu] = {}
        self.clock = 0
        self.create_id = create_id
        self.room_id = "!" + create_id[1:] if version.room_id_from_create_event else "!r:a.test"

    def make(
        self,
        event_id: str,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None,
        *,
        state: dict[StateKey, str],
        prev: list[str],
        ts: int | None = None,
    ) -> Pdu:
        """An event whose auth events the selection picks from `state`."""
        self.clock += 1
        keys = auth_types_for_event(event_type, state_key, sender, content, self.version)
        raw: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": content,
            "room_id": self.room_id,
            "prev_events": prev,
            "auth_events": [state[key] for key in keys if key in state],
            "depth": 1 + max((self.events[p].depth for p in prev), default=0),
            "origin_server_ts": self.clock if ts is None else ts,
        }
        if state_key is not None:
            raw["state_key"] = state_key
        if event_type == "m.room.create" and self.version.room_id_from_create_event:
            del raw["room_id"]
        event = Pdu(raw, event_id, self.version)
        assert event_id not in self.events, event_id
        self.events[event_id] = event
        return event

    def resolve(self, *branches: Branch | dict[StateKey, str]) -> dict[StateKey, EventId]:
        """`resolve_state` over the branches' states."""
        states = [b.state if isinstance(b, Branch) else b for b in branches]
        return resolve_state(self.version, states, self.events)


class Branch:
    """One line of events: the state after its latest event."""

    def __init__(self, dag: Dag, state: dict[StateKey, str], head: list[str]) -> None:
        self.dag = dag
        self.state = state
        self.head = head

    @classmethod
    def new_room(
        cls,
        dag: Dag,
        users: dict[str, int] | None = None,
        join_rule: str = "public",
        members: tuple[str, ...] = (),
        **create_content: Any,
    ) -> Branch:
        """Alice creates the room, joins, sets power levels and the join rule; `members` join."""
        branch = cls(dag, {}, [])
        content: dict[str, Any] = {"room_version": dag.version.identifier, **create_content}
        if not dag.version.implicit_room_creator:
            content["creator"] = ALICE
        branch.send(dag.create_id, "m.room.create", ALICE, content, "")
        branch.member("$JA", ALICE, "join")
        if users is None:
            users = {} if dag.version.privileged_creators else {ALICE: 100}
        branch.send("$P0", "m.room.power_levels", ALICE, {"users": users}, "")
        branch.send("$JR0", "m.room.join_rules", ALICE, {"join_rule": join_rule}, "")
        for i, user in enumerate(members):
            branch.member(f"$J{i}{user[1]}", user, "join")
        return branch

    def fork(self) -> Branch:
        return Branch(self.dag, dict(self.state), list(self.head))

    def send(
        self,
        event_id: str,
        event_type: str,
        sender: str,
        content: dict[str, Any],
        state_key: str | None = None,
        ts: int | None = None,
    ) -> Pdu:
        """Append an event; a state event updates this branch's state (auth is not checked)."""
        event = self.dag.make(
            event_id,
            event_type,
            sender,
            content,
            state_key,
            state=self.state,
            prev=self.head,
            ts=ts,
        )
        self.head = [event_id]
        pair = event.state_pair()
        if pair is not None:
            self.state[pair] = event_id
        return event

    def member(self, event_id: str, target: str, membership: str, sender: str | None = None) -> Pdu:
        return self.send(
            event_id, "m.room.member", sender or target, {"membership": membership}, target
        )

    def power_levels(self, event_id: str, sender: str, users: dict[str, int], **extra: Any) -> Pdu:
        return self.send(event_id, "m.room.power_levels", sender, {"users": users, **extra}, "")

    def topic(self, event_id: str, sender: str, topic: str, ts: int | None = None) -> Pdu:
        return self.send(event_id, "m.room.topic", sender, {"topic": topic}, "", ts=ts)

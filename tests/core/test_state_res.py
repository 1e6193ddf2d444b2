"""State resolution v2 and v2.1: named scenarios, the algorithm's parts, and properties.

Each scenario is data: a room (power levels, members), branches forked from it with the
events each side sent, and the expected resolution of the branches' states. Scenarios run in
room versions 10 and 11 (v2) and 12 (v2.1, creators implicit) unless they say otherwise.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from state_res_builders import ALICE, BOB, CAROL, DAVE, ZARA, Branch, Dag

from core.identifiers import EventId
from core.room_versions import V10, V11, V12, RoomVersion
from core.state_res import MissingEventsError, missing_auth_events, resolve_state
from core.state_res.graph import auth_difference, conflicted_subgraph, split_state
from core.state_res.iterative import iterative_auth_checks
from core.state_res.ordering import mainline_order, reverse_topological_power_order

ALL_VERSIONS = [V10, V11, V12]


def op(
    event_id: str, sender: str, event_type: str, state_key: str, **content: Any
) -> dict[str, Any]:
    return {
        "id": event_id,
        "sender": sender,
        "type": event_type,
        "key": state_key,
        "content": content,
    }


def member(event_id: str, sender: str, target: str, membership: str) -> dict[str, Any]:
    return op(event_id, sender, "m.room.member", target, membership=membership)


def power(event_id: str, sender: str, **users: int) -> dict[str, Any]:
    named = {
        "@" + name + (":a.test" if name == "alice" else f":{name[0]}.test"): level
        for name, level in users.items()
    }
    return op(event_id, sender, "m.room.power_levels", "", users=named)


def topic(event_id: str, sender: str, text: str, ts: int | None = None) -> dict[str, Any]:
    return {**op(event_id, sender, "m.room.topic", "", topic=text), "ts": ts}


SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "concurrent_bans",
        "doc": "Alice bans Bob while Bob bans Carol: the higher power acts first, Bob's ban fails",
        "users": {ALICE: 100, BOB: 50},
        "members": [BOB, CAROL],
        "branches": {
            "A": [member("$BAN_BOB", ALICE, BOB, "ban")],
            "B": [member("$BAN_CAROL", BOB, CAROL, "ban")],
        },
        "expect": {("m.room.member", BOB): "$BAN_BOB", ("m.room.member", CAROL): "$J1c"},
    },
    {
        "name": "power_changes_racing",
        "doc": "Alice demotes Bob while Bob promotes Carol, who sets a topic: Alice wins",
        "users": {ALICE: 100, BOB: 75},
        "members": [BOB, CAROL],
        "branches": {
            "A": [power("$PA", ALICE, alice=100, bob=0)],
            "B": [power("$PB", BOB, alice=100, bob=75, carol=75), topic("$TC", CAROL, "mine")],
        },
        "expect": {("m.room.power_levels", ""): "$PA"},
        "absent": [("m.room.topic", "")],
    },
    {
        "name": "join_rule_race",
        "doc": "Alice makes the room invite-only while Zara joins: the join is not in the result",
        "users": {ALICE: 100},
        "members": [],
        "branches": {
            "A": [op("$JR1", ALICE, "m.room.join_rules", "", join_rule="invite")],
            "B": [member("$JZ", ZARA, ZARA, "join")],
        },
        "expect": {("m.room.join_rules", ""): "$JR1"},
        "absent": [("m.room.member", ZARA)],
    },
    {
        "name": "kick_drops_the_kicked_users_topic",
        "doc": "A kick by a moderator and the kicked user's topic: the topic goes with the kick",
        "users": {ALICE: 100, BOB: 50, CAROL: 50},
        "members": [BOB, CAROL],
        "branches": {
            "A": [member("$KICK", ALICE, BOB, "leave")],
            "B": [topic("$TB", BOB, "bob's")],
        },
        "expect": {("m.room.member", BOB): "$KICK"},
        "absent": [("m.room.topic", "")],
    },
    {
        "name": "topic_by_mainline",
        "doc": "A topic citing newer power levels beats a later-stamped one citing older ones",
        "users": {ALICE: 100, BOB: 50, CAROL: 50},
        "members": [BOB, CAROL],
        "branches": {
            "A": [
                power("$P1", ALICE, alice=100, bob=50, carol=50, dave=10),
                topic("$TA", BOB, "a", 10),
            ],
            "B": [topic("$TB", CAROL, "b", 1000)],
        },
        "expect": {("m.room.power_levels", ""): "$P1", ("m.room.topic", ""): "$TA"},
    },
    {
        "name": "topic_same_mainline_by_timestamp",
        "doc": "Two topics citing the same power levels: the later origin_server_ts wins",
        "users": {ALICE: 100, BOB: 50, CAROL: 50},
        "members": [BOB, CAROL],
        "branches": {
            "A": [topic("$TA", BOB, "a", 500)],
            "B": [topic("$TB", CAROL, "b", 400)],
        },
        "expect": {("m.room.topic", ""): "$TA"},
    },
    {
        "name": "unconflicted_state_is_kept",
        "doc": "State both sides agree on survives, whatever the conflicts",
        "users": {ALICE: 100, BOB: 50},
        "members": [BOB, DAVE],
        "branches": {
            "A": [topic("$TA", BOB, "a")],
            "B": [topic("$TB", ALICE, "b")],
        },
        "expect": {("m.room.member", DAVE): "$J1d", ("m.room.join_rules", ""): "$JR0"},
    },
]


def build(scenario: dict[str, Any], version: RoomVersion) -> tuple[Dag, list[Branch]]:
    dag = Dag(version)
    users = dict(scenario["users"])
    if version.privileged_creators:
        users.pop(ALICE, None)
    base = Branch.new_room(dag, users=users, members=tuple(scenario["members"]))
    branches = []
    for events in scenario["branches"].values():
        branch = base.fork()
        for event in events:
            content = dict(event["content"])
            if version.privileged_creators and event["type"] == "m.room.power_levels":
                content["users"] = {u: v for u, v in content["users"].items() if u != ALICE}
            branch.send(
                event["id"], event["type"], event["sender"], content, event["key"], event.get("ts")
            )
        branches.append(branch)
    return dag, branches


@pytest.mark.parametrize("version", ALL_VERSIONS, ids=lambda v: f"v{v.identifier}")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["name"])
def test_scenario(scenario: dict[str, Any], version: RoomVersion) -> None:
    dag, branches = build(scenario, version)
    for order in itertools.permutations(branches):
        resolved = dag.resolve(*order)
        for key, event_id in scenario["expect"].items():
            assert resolved.get(key) == event_id, (scenario["doc"], key)
        for key in scenario.get("absent", []):
            assert key not in resolved, (scenario["doc"], key)


# --- v2.1 differs from v2 ------------------------------------------------------------------


@pytest.mark.parametrize(("version", "expected"), [(V11, "$JR1"), (V12, "$JR2")])
def test_v2_1_judges_conflicted_events_without_unconflicted_state(
    version: RoomVersion, expected: str
) -> None:
    """Bob changed the join rules before Alice banned him; both sides since saw the ban.

    v2 checks Bob's change against the unconflicted state, where he is banned, and drops it;
    v2.1 starts from empty state, so Bob's change is judged by its own auth events and stands.
    """
    dag = Dag(version)
    users = {BOB: 50} if version.privileged_creators else {ALICE: 100, BOB: 50}
    base = Branch.new_room(dag, users=users, members=(BOB,))
    side_a = base.fork()
    side_b = base.fork()
    side_b.send("$JR1", "m.room.join_rules", ALICE, {"join_rule": "invite"}, "")
    side_a.send("$JR2", "m.room.join_rules", BOB, {"join_rule": "knock"}, "")
    ban = base.fork().member("$BAN", BOB, "ban", sender=ALICE)
    for side in (side_a, side_b):
        side.state[("m.room.member", BOB)] = ban.event_id
    resolved = dag.resolve(side_a, side_b)
    assert resolved[("m.room.join_rules", "")] == expected
    assert resolved[("m.room.member", BOB)] == "$BAN"


def test_conflicted_subgraph_holds_paths_between_conflicted_events() -> None:
    dag = Dag(V12)
    base = Branch.new_room(dag, users={BOB: 50}, members=(BOB,))
    low = base.fork()
    low.power_levels("$PX", ALICE, {BOB: 60})  # on the path
    low.power_levels("$PY", BOB, {BOB: 60, CAROL: 10})
    side = base.fork()
    side.topic("$T", BOB, "t")
    subgraph = conflicted_subgraph({EventId("$P0"), EventId("$PY")}, dag.events)
    # Bob's join and the join rules it cites rest on $P0 too: they are on paths from $PY.
    assert subgraph == {"$P0", "$PX", "$PY", "$J0b", "$JR0"}
    # Events that lead to no other conflicted event stay out (the conflicted events
    # themselves are always returned: the full conflicted set holds them anyway).
    assert conflicted_subgraph({EventId("$PY"), EventId("$T")}, dag.events) == {"$PY", "$T"}


def test_v2_1_full_conflicted_set_takes_in_the_subgraph() -> None:
    from core.state_res.resolve import full_conflicted_set

    dag = Dag(V12)
    base = Branch.new_room(dag, users={BOB: 50}, members=(BOB,))
    one = base.fork()
    one.power_levels("$PX", ALICE, {BOB: 60})
    one.power_levels("$PY", BOB, {BOB: 60, CAROL: 10})
    # A second state set that still has $P0 but also saw $PX's chain as unconflicted.
    two = dict(one.state)
    two[("m.room.power_levels", "")] = "$P0"
    two[("m.room.history_visibility", "")] = one.send(
        "$HV", "m.room.history_visibility", ALICE, {"history_visibility": "shared"}, ""
    ).event_id
    one.state.pop(("m.room.history_visibility", ""))
    _, conflicted = split_state([one.state, two])
    assert "$PX" not in full_conflicted_set(V11, [one.state, two], conflicted, dag.events)
    assert "$PX" in full_conflicted_set(V12, [one.state, two], conflicted, dag.events)


# --- The algorithm's parts ----------------------------------------------------------------


def test_split_state() -> None:
    unconflicted, conflicted = split_state(
        [{("a", ""): "$1", ("b", ""): "$2", ("c", ""): "$4"}, {("a", ""): "$1", ("b", ""): "$3"}]
    )
    assert unconflicted == {("a", ""): "$1"}
    assert conflicted == {"$2", "$3", "$4"}


def test_auth_difference() -> None:
    dag = Dag(V11)
    base = Branch.new_room(dag, members=(BOB,))
    a, b = base.fork(), base.fork()
    a.power_levels("$PA", ALICE, {ALICE: 100, BOB: 50})
    a.topic("$TA", BOB, "x")
    b.topic("$TB", ALICE, "y")
    # $PA is in one full auth chain only; $P0 is in both (in b's state, in $PA's chain).
    assert auth_difference([a.state, b.state], dag.events) == {"$PA", "$TA", "$TB"}


def test_reverse_topological_power_order_ties() -> None:
    dag = Dag(V11)
    base = Branch.new_room(dag, users={ALICE: 100, BOB: 50, CAROL: 50}, members=(BOB, CAROL))
    base.fork().topic("$T_BOB", BOB, "b", ts=5)
    base.fork().topic("$T_ALICE", ALICE, "a", ts=9)
    base.fork().topic("$T_CAROL_EARLY", CAROL, "c", ts=1)
    base.fork().topic("$T_CAROL_SAME", CAROL, "c", ts=1)
    ids = [EventId(e) for e in ("$T_CAROL_SAME", "$T_BOB", "$T_ALICE", "$T_CAROL_EARLY")]
    order = reverse_topological_power_order(ids, dag.events, frozenset())
    assert order == ["$T_ALICE", "$T_CAROL_EARLY", "$T_CAROL_SAME", "$T_BOB"]


def test_reverse_topological_order_puts_auth_events_first() -> None:
    dag = Dag(V11)
    base = Branch.new_room(dag, users={ALICE: 100, BOB: 50}, members=(BOB,))
    ids = [EventId(e) for e in ("$J0b", "$P0", "$JA", "$JR0", "$CREATE")]
    order = reverse_topological_power_order(ids, dag.events, frozenset())
    assert order == ["$CREATE", "$JA", "$P0", "$JR0", "$J0b"]
    assert base.state


def test_v12_creators_sort_first() -> None:
    dag = Dag(V12)
    base = Branch.new_room(dag, users={BOB: 2**53 - 1}, members=(BOB,))
    base.fork().topic("$T_BOB", BOB, "b", ts=1)
    base.fork().topic("$T_ALICE", ALICE, "a", ts=2)
    order = reverse_topological_power_order(
        [EventId("$T_BOB"), EventId("$T_ALICE")], dag.events, frozenset()
    )
    assert order == ["$T_ALICE", "$T_BOB"]


def test_mainline_order() -> None:
    dag = Dag(V11)
    base = Branch.new_room(dag, users={ALICE: 100, BOB: 50}, members=(BOB,))
    base.topic("$T0", BOB, "t0", ts=100)
    base.power_levels("$P1", ALICE, {ALICE: 100, BOB: 50, CAROL: 1})
    base.topic("$T1", BOB, "t1", ts=1)
    base.power_levels("$P2", ALICE, {ALICE: 100, BOB: 50, CAROL: 2})
    base.topic("$T2a", BOB, "t2", ts=7)
    base.topic("$T2b", BOB, "t2", ts=3)
    ids = [EventId(e) for e in ("$T2a", "$T1", "$T2b", "$T0")]
    assert mainline_order(ids, "$P2", dag.events) == ["$T0", "$T1", "$T2b", "$T2a"]
    # Without power levels every event is off the mainline: timestamps decide.
    assert mainline_order(ids, None, dag.events) == ["$T1", "$T2b", "$T2a", "$T0"]


def test_rejected_auth_events_are_not_used() -> None:
    dag = Dag(V11)
    base = Branch.new_room(dag, users={ALICE: 100, BOB: 50}, members=(BOB,))
    base.topic("$TA", BOB, "a")
    # From an empty state, the checks fall back to $TA's own auth events...
    assert iterative_auth_checks({}, [EventId("$TA")], dag.events, frozenset()) == {
        ("m.room.topic", ""): "$TA"
    }
    # ...but not to a rejected one: without Bob's join, his topic is not allowed.
    assert iterative_auth_checks({}, [EventId("$TA")], dag.events, {"$J0b"}) == {}


def test_missing_events_are_named() -> None:
    dag = Dag(V11)
    base = Branch.new_room(dag, members=(BOB,))
    a, b = base.fork(), base.fork()
    a.topic("$TA", BOB, "a")
    b.topic("$TB", ALICE, "b")
    partial = {k: v for k, v in dag.events.items() if k != "$P0"}
    assert missing_auth_events([a.state, b.state], partial) == {"$P0"}
    assert missing_auth_events([a.state, b.state], dag.events) == set()
    with pytest.raises(MissingEventsError) as info:
        resolve_state(V11, [a.state, b.state], partial)
    assert info.value.event_ids == ["$P0"]


def test_v12_needs_the_create_event_named_by_the_room_id() -> None:
    dag = Dag(V12)
    base = Branch.new_room(dag, members=(BOB,))
    a, b = base.fork(), base.fork()
    a.topic("$TA", BOB, "a")
    b.topic("$TB", ALICE, "b")
    assert "$CREATE" not in dag.events["$TA"].auth_event_ids
    partial = {k: v for k, v in dag.events.items() if k != "$CREATE"}
    assert missing_auth_events([a.state, b.state], partial) == {"$CREATE"}


@pytest.mark.parametrize("version", ALL_VERSIONS, ids=lambda v: f"v{v.identifier}")
def test_one_or_equal_state_sets_resolve_to_themselves(version: RoomVersion) -> None:
    dag = Dag(version)
    base = Branch.new_room(dag, members=(BOB, CAROL))
    assert dag.resolve(base) == base.state
    assert dag.resolve(base, base.fork()) == base.state
    assert resolve_state(version, [], dag.events) == {}


# --- Properties ---------------------------------------------------------------------------

USERS = [ALICE, BOB, CAROL, DAVE]
LEVELS = [0, 50, 100]


def _actions() -> st.SearchStrategy[tuple[Any, ...]]:
    user = st.sampled_from(USERS)
    return st.one_of(
        st.tuples(st.just("topic"), user, st.integers(0, 3)),
        st.tuples(st.just("power"), user, user, st.sampled_from(LEVELS)),
        st.tuples(st.just("member"), user, user, st.sampled_from(["ban", "leave", "join"])),
        st.tuples(st.just("rule"), user, st.sampled_from(["public", "invite"])),
    )


def _grow(dag: Dag, branches: list[list[tuple[Any, ...]]]) -> list[Branch]:
    users = {} if dag.version.privileged_creators else {ALICE: 100}
    base = Branch.new_room(dag, users={**users, BOB: 50, CAROL: 50}, members=(BOB, CAROL))
    out = []
    counter = itertools.count()
    for actions in branches:
        branch = base.fork()
        for action in actions:
            eid = f"${next(counter)}"
            kind, sender = action[0], action[1]
            if kind == "topic":
                branch.topic(eid, sender, "t", ts=action[2])
            elif kind == "power":
                levels = {**users, BOB: 50, CAROL: 50}
                if not (dag.version.privileged_creators and action[2] == ALICE):
                    levels[action[2]] = action[3]
                branch.power_levels(eid, sender, levels)
            elif kind == "member":
                branch.member(eid, action[2], action[3], sender=sender)
            else:
                branch.send(eid, "m.room.join_rules", sender, {"join_rule": action[2]}, "")
        out.append(branch)
    return out


@settings(max_examples=60, deadline=None)
@given(
    version=st.sampled_from(ALL_VERSIONS),
    branches=st.lists(st.lists(_actions(), max_size=4), min_size=2, max_size=3),
    data=st.data(),
)
def test_resolution_does_not_depend_on_state_set_order(
    version: RoomVersion, branches: list[list[tuple[Any, ...]]], data: st.DataObject
) -> None:
    dag = Dag(version)
    grown = _grow(dag, branches)
    expected = dag.resolve(*grown)
    shuffled = data.draw(st.permutations(grown))
    assert dag.resolve(*shuffled) == expected
    # Resolving the result with one of its inputs' common ancestry changes nothing twice.
    assert dag.resolve(expected, expected) == expected

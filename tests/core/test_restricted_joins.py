"""What a restricted join needs, read from the room state (`core.restricted_joins`), and that
the authoriser it picks satisfies auth rule 4.3.5.2."""

from __future__ import annotations

import pytest

from core.auth_base import AUTHORISED_VIA
from core.restricted_joins import (
    allowed_room_ids,
    can_authorise,
    join_needs_authoriser,
    pick_authoriser,
)
from core.room_versions import V10, V11, V12, RoomVersion
from tests.core.auth_builders import ALICE, BOB, CAROL, DAVE, NO_KNOCK, Room

ALLOWED = {"type": "m.room_membership", "room_id": "!space:a.test"}


def restricted(version: RoomVersion, rule: str = "restricted", **pl: object) -> Room:
    room = Room.standard(version, join_rule=None, users={ALICE: 100, CAROL: 50}, **pl)
    room.join_rules(rule, allow=[ALLOWED])
    room.member(CAROL, "join")
    return room


@pytest.mark.parametrize("version", [V10, V11, V12])
@pytest.mark.parametrize("rule", ["restricted", "knock_restricted"])
def test_a_stranger_needs_an_authoriser(version: RoomVersion, rule: str) -> None:
    room = restricted(version, rule)
    assert join_needs_authoriser(room.state, BOB)
    assert allowed_room_ids(room.state) == ["!space:a.test"]
    authoriser = pick_authoriser(room.state, "a.test")
    assert authoriser is not None
    join = room.event("m.room.member", BOB, {"membership": "join", AUTHORISED_VIA: authoriser}, BOB)
    room.check(join)


def test_invited_or_joined_users_and_other_rules_need_none() -> None:
    room = restricted(V11)
    room.member(BOB, "invite", sender=ALICE)
    assert not join_needs_authoriser(room.state, BOB)
    room.member(BOB, "join")
    assert not join_needs_authoriser(room.state, BOB)
    assert not join_needs_authoriser(Room.standard(V11, "public").state, DAVE)
    assert not join_needs_authoriser(Room.standard(V11, "invite").state, DAVE)
    assert not join_needs_authoriser(Room(V11).state, DAVE)  # no join rules event


def test_a_version_without_restricted_rooms_needs_none() -> None:
    room = Room.standard(NO_KNOCK, join_rule=None)
    room.join_rules("restricted", allow=[ALLOWED])
    assert not join_needs_authoriser(room.state, BOB)


def test_only_well_formed_room_membership_conditions_count() -> None:
    room = Room.standard(V11, join_rule=None)
    room.join_rules(
        "restricted",
        allow=[
            {"type": "m.room_membership", "room_id": "!a:a.test"},
            {"type": "m.room_membership"},
            {"type": "m.other", "room_id": "!b:a.test"},
            {"type": "m.room_membership", "room_id": 5},
            "!c:a.test",
            {"type": "m.room_membership", "room_id": "!a:a.test"},
            {"type": "m.room_membership", "room_id": "!d:a.test"},
        ],
    )
    assert allowed_room_ids(room.state) == ["!a:a.test", "!d:a.test"]
    room.join_rules("restricted", allow="!a:a.test")
    assert allowed_room_ids(room.state) == []
    room.join_rules("restricted")
    assert allowed_room_ids(room.state) == []


def test_the_most_powerful_local_member_able_to_invite_is_picked() -> None:
    room = restricted(V11)
    assert pick_authoriser(room.state, "a.test") == ALICE
    room.member(ALICE, "leave")
    assert pick_authoriser(room.state, "a.test") == CAROL
    assert pick_authoriser(room.state, "b.test") is None


def test_nobody_below_the_invite_level_authorises() -> None:
    room = restricted(V11, invite=60)
    room.member(ALICE, "leave")
    assert not can_authorise(room.state, CAROL)
    assert pick_authoriser(room.state, "a.test") is None
    room.member(DAVE, "join")
    assert not can_authorise(room.state, DAVE)  # joined, level 0 < 60


def test_v12_creators_authorise_without_a_power_level_entry() -> None:
    room = Room.standard(V12, join_rule=None, users={})
    room.join_rules("restricted", allow=[ALLOWED])
    assert can_authorise(room.state, ALICE)
    assert pick_authoriser(room.state, "a.test") == ALICE

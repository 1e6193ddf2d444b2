"""`ClientState.apply_sync` on hand-written sync responses (pure)."""

from __future__ import annotations

from typing import Any

from core.power_levels import CREATOR_POWER_LEVEL
from sdk.responses import parse_sync
from sdk.state import ClientState, MemberChange
from tests.sdk.sync_samples import ALICE, BOB, CAROL, DM, ROOM, event, initial_sync, member


def joined(
    room_id: str, *, timeline: list[dict[str, Any]], batch: str, **extra: Any
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "timeline": {"events": timeline, "limited": False, "prev_batch": "p"}
    }
    section.update(extra)
    return {"next_batch": batch, "rooms": {"join": {room_id: section}}}


def started() -> ClientState:
    state = ClientState(ALICE)
    state.apply_sync(parse_sync(initial_sync()))
    return state


def test_initial_sync_builds_rooms() -> None:
    state = ClientState(ALICE)
    changes = state.apply_sync(parse_sync(initial_sync()))
    assert state.next_batch == "s1"
    assert changes.rooms == {ROOM, DM}
    room = state.rooms[ROOM]
    assert room.membership == "join"
    assert room.name == "Room"
    assert room.joined_member_ids == [ALICE, BOB]
    assert room.members[ALICE].displayname == "Alice"
    assert room.power_level(ALICE) == 100
    assert room.power_level(BOB) == 0
    assert [e.event_id for e in room.timeline] == ["$name", "$b", "$m1"]
    assert room.prev_batch == "p0"
    assert room.unread.highlight_count == 1
    assert room.account_data["m.tag"] == {"tags": {}}
    assert not room.encrypted
    assert state.account_data["m.direct"] == {BOB: [DM]}
    assert changes.account_data == {"m.direct"}
    assert changes.state[ROOM] >= {("m.room.create", ""), ("m.room.member", BOB)}
    assert MemberChange(ROOM, BOB, None, "join") in changes.members


def test_invite_state_and_inviter() -> None:
    state = started()
    invite = state.rooms[DM]
    assert invite.membership == "invite"
    assert invite.inviter == BOB
    assert invite.name == "Private"  # read from the stripped state
    assert [r.room_id for r in state.rooms_with("invite")] == [DM]
    assert invite.display_name(ALICE) == "Private"


def test_joining_an_invited_room_clears_invite_state() -> None:
    state = started()
    state.apply_sync(parse_sync(joined(DM, timeline=[member("$j", ALICE, "join")], batch="s2")))
    room = state.rooms[DM]
    assert room.membership == "join"
    assert room.invite_state == ()
    assert room.joined_member_ids == [ALICE]


def test_incremental_timeline_appends_and_updates_state() -> None:
    state = started()
    changes = state.apply_sync(
        parse_sync(
            joined(
                ROOM,
                batch="s2",
                timeline=[
                    event("$m2", "m.room.message", {"body": "again"}, sender=BOB),
                    event("$topic", "m.room.topic", {"topic": "news"}, state_key=""),
                    member("$c", CAROL, "invite"),
                ],
            )
        )
    )
    room = state.rooms[ROOM]
    assert state.next_batch == "s2"
    assert [e.event_id for e in room.timeline][-3:] == ["$m2", "$topic", "$c"]
    assert room.topic == "news"
    assert room.member_ids(("invite",)) == [CAROL]
    assert changes.state[ROOM] == {("m.room.topic", ""), ("m.room.member", CAROL)}
    assert changes.members == (MemberChange(ROOM, CAROL, None, "invite"),)


def test_replayed_events_are_not_duplicated() -> None:
    state = started()
    again = joined(ROOM, batch="s2", timeline=[event("$m1", "m.room.message", {"body": "hi"})])
    changes = state.apply_sync(parse_sync(again))
    assert [e.event_id for e in state.rooms[ROOM].timeline].count("$m1") == 1
    assert ROOM not in changes.state


def test_limited_timeline_drops_the_old_tail() -> None:
    state = started()
    body = joined(ROOM, batch="s2", timeline=[event("$new", "m.room.message", {"body": "x"})])
    body["rooms"]["join"][ROOM]["timeline"].update(limited=True, prev_batch="gap")
    state.apply_sync(parse_sync(body))
    room = state.rooms[ROOM]
    assert [e.event_id for e in room.timeline] == ["$new"]
    assert room.prev_batch == "gap"


def test_timeline_tail_is_bounded() -> None:
    state = ClientState(ALICE, timeline_tail=3)
    messages = [event(f"$m{i}", "m.room.message", {"body": str(i)}) for i in range(10)]
    state.apply_sync(parse_sync(joined(ROOM, timeline=messages, batch="s")))
    assert [e.event_id for e in state.rooms[ROOM].timeline] == ["$m7", "$m8", "$m9"]


def test_encryption_is_sticky() -> None:
    state = started()
    enable = event(
        "$enc", "m.room.encryption",
        {"algorithm": "m.megolm.v1.aes-sha2", "rotation_period_msgs": 10}, state_key="",
    )  # fmt: skip
    changes = state.apply_sync(parse_sync(joined(ROOM, timeline=[enable], batch="s2")))
    assert changes.newly_encrypted == {ROOM}
    assert state.is_encrypted(ROOM)
    assert state.rooms[ROOM].encryption == {
        "algorithm": "m.megolm.v1.aes-sha2",
        "rotation_period_msgs": 10,
    }
    # A later event without an algorithm (or a different one) does not turn it off or change it.
    disable = event("$off", "m.room.encryption", {}, state_key="")
    changes = state.apply_sync(parse_sync(joined(ROOM, timeline=[disable], batch="s3")))
    assert state.is_encrypted(ROOM)
    assert changes.newly_encrypted == frozenset()
    assert state.rooms[ROOM].encryption == {
        "algorithm": "m.megolm.v1.aes-sha2",
        "rotation_period_msgs": 10,
    }


def test_encryption_from_the_state_block() -> None:
    state = ClientState(ALICE)
    body = joined(ROOM, timeline=[], batch="s")
    body["rooms"]["join"][ROOM]["state"] = {
        "events": [event("$enc", "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"},
                         state_key="")]
    }  # fmt: skip
    state.apply_sync(parse_sync(body))
    assert state.is_encrypted(ROOM)
    assert not state.is_encrypted("!unknown:h")


def test_mark_encrypted_before_the_first_sync() -> None:
    state = ClientState(ALICE)
    state.mark_encrypted(ROOM, {})
    assert not state.is_encrypted(ROOM)
    state.mark_encrypted(ROOM, {"algorithm": "m.megolm.v1.aes-sha2"})
    assert state.is_encrypted(ROOM)


def test_leaving_records_the_membership_change() -> None:
    state = started()
    body = {
        "next_batch": "s2",
        "rooms": {
            "leave": {
                ROOM: {"timeline": {"events": [member("$bye", ALICE, "leave")], "limited": False}}
            }
        },
    }
    changes = state.apply_sync(parse_sync(body))
    assert state.rooms[ROOM].membership == "leave"
    assert changes.members == (MemberChange(ROOM, ALICE, "join", "leave"),)
    assert state.rooms_with("join") == []


def test_display_name_falls_back_to_members() -> None:
    state = ClientState(ALICE)
    body = joined(
        ROOM, batch="s",
        timeline=[member("$a", ALICE, "join"), member("$b", BOB, "join", displayname="Bobby")],
    )  # fmt: skip
    state.apply_sync(parse_sync(body))
    assert state.rooms[ROOM].display_name(ALICE) == "Bobby"
    assert ClientState().rooms == {}


def test_round_trip_through_the_persisted_record() -> None:
    state = started()
    copy = ClientState(ALICE)
    for room_id in state.rooms:
        raw_state = [e.raw for e in state.iter_state_events(room_id)]
        copy.load_room(room_id, state.room_record(room_id), raw_state)
    for room_id, room in state.rooms.items():
        again = copy.rooms[room_id]
        assert again.membership == room.membership
        assert again.state == room.state
        assert [e.event_id for e in again.timeline] == [e.event_id for e in room.timeline]
        assert again.invite_state == room.invite_state
        assert (again.prev_batch, again.unread, again.encryption) == (
            room.prev_batch,
            room.unread,
            room.encryption,
        )


def test_everything_names_all_rooms_state_and_account_data() -> None:
    state = started()
    everything = state.everything()
    assert everything.rooms == {ROOM, DM}
    assert everything.state[ROOM] == frozenset(state.rooms[ROOM].state)
    assert everything.account_data == {"m.direct"}


def test_room_version_12_creators_outrank_every_level() -> None:
    create = {"room_version": "12", "additional_creators": [CAROL]}
    levels = {"users": {BOB: 100}, "users_default": 0}
    timeline = [
        event("$create", "m.room.create", create, state_key="", sender=ALICE),
        event("$pl", "m.room.power_levels", levels, state_key="", sender=ALICE),
    ]
    state = ClientState(ALICE)
    state.apply_sync(parse_sync(joined("!v12", timeline=timeline, batch="s1")))
    room = state.rooms["!v12"]
    assert room.power_level(ALICE) == room.power_level(CAROL) == CREATOR_POWER_LEVEL
    assert room.power_level(BOB) == 100
    assert room.power_level("@dave:example.org") == 0

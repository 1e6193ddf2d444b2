"""Room version 12: room IDs from the create event, privileged creators, and what v10/v11 keep.

MSC4291 (room ID = `!` + the create event's reference hash, no `room_id` on the create event,
the create event never in `auth_events`) and MSC4289 (creators outrank every power level and
may not be listed in power levels). State resolution v2.1 is tested with state resolution.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from auth_builders import ALICE, BOB, CAROL, DAVE, Room, create_event

from core.auth_rules import AuthError, auth_types_for_event, check_auth, check_auth_events_selection
from core.client_events import client_event
from core.errors import M_BAD_JSON, MatrixError
from core.event_format import check_pdu_format
from core.events import Pdu
from core.hashes import compute_event_id, compute_room_id, sign_event
from core.identifiers import is_hashed_room_id, parse_room_id, room_id_server
from core.power_levels import CREATOR_POWER_LEVEL, get_creators, get_user_power_level
from core.redaction import redact
from core.room_versions import (
    DEFAULT_ROOM_VERSION,
    KNOWN_ROOM_VERSIONS,
    V10,
    V11,
    V12,
    get_protocol_room_version,
    get_room_version,
)
from core.signing import SigningKey

HASHED_ROOM_ID = re.compile(r"^![A-Za-z0-9_-]{43}$")


def denied(room: Room, event: Pdu, rule: str) -> None:
    with pytest.raises(AuthError, match=rf"^M_FORBIDDEN: {rule}\b"):
        room.check(event)


def v12_room(**create_content: Any) -> Room:
    """Alice created it (plus `additional_creators`), joined; power levels list nobody."""
    room = Room(V12, **create_content)
    room.member(ALICE, "join")
    room.power_levels(users={})
    room.join_rules("public")
    return room


# --- Versions as data ----------------------------------------------------------------------


def test_v12_is_v11_plus_three_flags() -> None:
    assert V12.identifier == "12"
    new_flags = ("privileged_creators", "room_id_from_create_event", "state_res_v2_1")
    assert all(getattr(V12, flag) for flag in new_flags)
    assert all(getattr(V12, flag) for flag in ("updated_redaction_rules", "implicit_room_creator"))
    for old in (V10, V11):
        assert not any(getattr(old, flag) for flag in new_flags)


def test_v12_is_offered_and_the_default() -> None:
    assert get_protocol_room_version("12") is V12
    assert get_room_version("12") is V12
    assert set(KNOWN_ROOM_VERSIONS) == {"10", "11", "12"}
    assert DEFAULT_ROOM_VERSION is V12


# --- MSC4291: room IDs -------------------------------------------------------------------


def create_pdu(**content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.create",
        "state_key": "",
        "sender": ALICE,
        "content": {"room_version": "12", **content},
        "prev_events": [],
        "auth_events": [],
        "depth": 1,
        "origin_server_ts": 1700000000000,
    }


def test_room_id_is_the_create_event_id_with_bang(spec_key: SigningKey) -> None:
    signed = sign_event(create_pdu(), "a.test", spec_key, V12)
    room_id = compute_room_id(signed, V12)
    assert HASHED_ROOM_ID.match(room_id)
    assert room_id == "!" + compute_event_id(signed, V12)[1:]
    # Signatures are not covered, content is: another create makes another room.
    assert compute_room_id({**signed, "signatures": {}}, V12) == room_id
    assert compute_room_id(sign_event(create_pdu(x=1), "a.test", spec_key, V12), V12) != room_id


def test_room_id_is_not_derived_before_v12() -> None:
    with pytest.raises(ValueError, match="server-assigned room IDs"):
        compute_room_id(create_pdu(), V11)


def test_parse_room_id_accepts_both_forms(spec_key: SigningKey) -> None:
    hashed = compute_room_id(sign_event(create_pdu(), "a.test", spec_key, V12), V12)
    assert parse_room_id(hashed) == hashed
    assert is_hashed_room_id(hashed)
    assert room_id_server(hashed) is None
    classic = parse_room_id("!opaque:example.org:8448")
    assert not is_hashed_room_id(classic)
    assert room_id_server(classic) == "example.org:8448"


@pytest.mark.parametrize(
    "value",
    [
        "!" + "A" * 42,  # too short
        "!" + "A" * 44,  # too long
        "!" + "A" * 42 + "+",  # standard, not URL-safe, base64
        "!" + "A" * 42 + "=",  # padded
        "$" + "A" * 43,  # an event ID
        "!",
        "!opaque",
        "!:example.org",
    ],
)
def test_parse_room_id_refuses_other_domainless_ids(value: str) -> None:
    with pytest.raises(ValueError, match=r"room ID|identifier"):
        parse_room_id(value)


def test_client_format_of_a_v12_create_event_names_its_room(spec_key: SigningKey) -> None:
    signed = sign_event(create_pdu(), "a.test", spec_key, V12)
    create = Pdu(signed, compute_event_id(signed, V12), V12)
    event = client_event(create, now_ms=0)
    assert event["room_id"] == compute_room_id(signed, V12)
    assert "room_id" not in client_event(create, now_ms=0, include_room_id=False)


@pytest.mark.parametrize("version", [V10, V11, V12])
def test_client_format_serves_redacts_in_both_places(version: Any) -> None:
    raw = {
        "type": "m.room.redaction",
        "sender": ALICE,
        "room_id": "!r:a.test",
        "content": {"reason": "spam"},
        "origin_server_ts": 1,
    }
    if version.redacts_in_content:
        raw["content"] = {"reason": "spam", "redacts": "$target"}
    else:
        raw["redacts"] = "$target"
    event = client_event(Pdu(raw, "$redaction", version), now_ms=1)
    assert event["redacts"] == event["content"]["redacts"] == "$target"
    assert event["content"]["reason"] == "spam"
    assert ("redacts" in raw) != version.redacts_in_content  # the stored event is untouched


def test_create_event_view_reports_its_own_room_id() -> None:
    create = Pdu(create_pdu(), "$abc", V12)
    assert create.room_id == "!abc"
    assert Pdu(create_pdu(), "$abc", V11).room_id == ""


def test_v12_redaction_is_v11_redaction() -> None:
    event = {**create_pdu(extra="kept"), "origin": "a.test", "unsigned": {"age": 1}}
    assert redact(event, V12) == redact(event, V11)


def _format(pdu_: dict[str, Any], version: Any = V12) -> None:
    check_pdu_format({**pdu_, "hashes": {"sha256": "x"}, "signatures": {}}, version)


def test_format_create_without_room_id() -> None:
    _format(create_pdu())
    with pytest.raises(MatrixError, match="missing 'room_id'") as info:
        _format(create_pdu(), V11)
    assert info.value.errcode == M_BAD_JSON


def message_pdu(room_id: str, auth_events: list[str]) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "sender": BOB,
        "room_id": room_id,
        "content": {"body": "hi"},
        "prev_events": ["$prev"],
        "auth_events": auth_events,
        "depth": 2,
        "origin_server_ts": 1,
    }


HASH = "A" * 42 + "Q"


def test_format_hashed_room_id() -> None:
    _format(message_pdu("!" + HASH, ["$pl"]))
    for bad in ("!room:a.test", "!short", "!" + HASH + "x", "!" + "+" * 43):
        with pytest.raises(MatrixError, match="reference hash"):
            _format(message_pdu(bad, ["$pl"]))
    # Domain room IDs stay the rule before v12.
    _format(message_pdu("!room:a.test", ["$pl"]), V11)


def test_format_refuses_create_event_in_auth_events() -> None:
    with pytest.raises(MatrixError, match="must not list the create event"):
        _format(message_pdu("!" + HASH, ["$" + HASH, "$pl"]))


def test_selection_leaves_out_the_create_event() -> None:
    keys = auth_types_for_event("m.room.message", None, BOB, {}, V12)
    assert keys == [("m.room.power_levels", ""), ("m.room.member", BOB)]
    assert ("m.room.create", "") in auth_types_for_event("m.room.message", None, BOB, {}, V11)


def test_selection_takes_create_from_the_room_id() -> None:
    room = v12_room()
    room.member(BOB, "join")
    event = room.event("m.room.message", BOB)
    auth = [room.state[("m.room.power_levels", "")], room.state[("m.room.member", BOB)]]
    keyed = check_auth_events_selection(event, auth, create=room.create)
    assert keyed[("m.room.create", "")] is room.create
    check_auth(event, keyed)
    with pytest.raises(AuthError, match=r"v12 rule 2: the room's m\.room\.create"):
        check_auth_events_selection(event, auth)
    with pytest.raises(AuthError, match=r"rule 2\.2"):
        check_auth_events_selection(event, [room.create, *auth], create=room.create)
    other = create_event(V12, BOB)
    other.raw["content"]["x"] = 1
    other = Pdu(other.raw, "$other", V12)
    with pytest.raises(AuthError, match="v12 rule 2: room ID"):
        check_auth_events_selection(event, auth, create=other)


def test_event_whose_room_id_does_not_name_the_create_is_rejected() -> None:
    room = v12_room()
    room.member(BOB, "join")
    denied(room, room.event("m.room.message", BOB, room_id="!elsewhere"), "v12 rule 2")


def test_create_with_room_id_is_rejected() -> None:
    room = Room(V12)
    create = create_event(V12)
    create.raw["room_id"] = "!create"
    denied(room, create, "v12 rule 1.2")
    check_auth(create_event(V12), {})
    # Rule 1.2 no longer compares domains: the sender's server is free.
    check_auth(create_event(V12, "@alice:elsewhere.test"), {})


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ([BOB, DAVE], True),
        ([], True),
        ("@bob:b.test", False),
        ([BOB, 5], False),
        (["bob"], False),
        (["@bob"], False),
    ],
)
def test_additional_creators_must_be_user_ids(value: object, ok: bool) -> None:
    create = create_event(V12, additional_creators=value)
    if ok:
        check_auth(create, {})
    else:
        denied(Room(V12), create, "v12 rule 1.4")
    # Earlier versions do not know the field.
    check_auth(create_event(V11, additional_creators=value), {})


def test_create_recognises_version_12() -> None:
    check_auth(create_event(V11, room_version="12"), {})


# --- MSC4289: privileged creators ------------------------------------------------------------


def test_creators_have_power_above_every_integer() -> None:
    room = v12_room(additional_creators=[BOB])
    assert get_creators(room.create) == {ALICE, BOB}
    assert get_user_power_level(ALICE, room.state) == CREATOR_POWER_LEVEL
    assert get_user_power_level(BOB, room.state) == CREATOR_POWER_LEVEL
    assert get_user_power_level(CAROL, room.state) == 0
    assert CREATOR_POWER_LEVEL > 2**53 - 1
    del room.state[("m.room.power_levels", "")]
    assert get_user_power_level(ALICE, room.state) == CREATOR_POWER_LEVEL
    assert get_user_power_level(CAROL, room.state) == 0


def test_v11_creator_keeps_100_without_power_levels() -> None:
    room = Room(V11, additional_creators=[BOB])
    assert get_creators(room.create) == {ALICE}
    assert get_user_power_level(ALICE, room.state) == 100
    assert get_user_power_level(BOB, room.state) == 0


@pytest.mark.parametrize("creator", [ALICE, BOB])
def test_power_levels_may_not_list_a_creator(creator: str) -> None:
    room = v12_room(additional_creators=[BOB])
    event = room.event("m.room.power_levels", ALICE, {"users": {creator: 100}}, "")
    denied(room, event, "rule 9: power levels 'users' may not list the room creator")
    # The first power levels event is checked too.
    del room.state[("m.room.power_levels", "")]
    denied(room, event, "rule 9")


def test_v11_power_levels_list_the_creator() -> None:
    room = Room.standard(V11)
    room.check(room.event("m.room.power_levels", ALICE, {"users": {ALICE: 100, BOB: 50}}, ""))


def test_creator_demotes_an_admin_at_any_level() -> None:
    room = v12_room()
    room.member(CAROL, "join")
    room.power_levels(users={CAROL: 2**53 - 1})
    room.check(room.event("m.room.power_levels", ALICE, {"users": {CAROL: 0}}, ""))
    # The admin cannot touch anyone at their own level, nor list the creator.
    denied(room, room.event("m.room.power_levels", CAROL, {"users": {ALICE: 0}}, ""), "rule 9")


def test_v11_creator_cannot_demote_an_equal_admin() -> None:
    room = Room.standard(V11, users={ALICE: 100, CAROL: 100})
    room.member(CAROL, "join")
    event = room.event("m.room.power_levels", ALICE, {"users": {ALICE: 100, CAROL: 0}}, "")
    denied(room, event, "rule 9")


def test_nobody_bans_or_kicks_a_creator() -> None:
    room = v12_room(additional_creators=[BOB])
    room.member(BOB, "join")
    room.member(CAROL, "join")
    room.power_levels(users={CAROL: 2**53 - 1})
    denied(room, room.membership_event(CAROL, ALICE, "ban"), "rule 4.6.3")
    denied(room, room.membership_event(CAROL, ALICE, "leave"), "rule 4.5.5")
    # Creators are equals: one cannot ban the other.
    denied(room, room.membership_event(BOB, ALICE, "ban"), "rule 4.6.3")
    room.check(room.membership_event(BOB, CAROL, "ban"))


def test_additional_creator_sends_anything_without_being_listed() -> None:
    room = v12_room(additional_creators=[DAVE])
    room.member(DAVE, "join")
    room.power_levels(users={}, events={"m.room.tombstone": 2**53 - 1}, state_default=100)
    room.check(room.event("m.room.tombstone", DAVE, {"body": "moved"}, ""))
    room.check(room.event("m.room.power_levels", DAVE, {"users": {CAROL: 2**53 - 1}}, ""))


def test_creator_joins_right_after_create() -> None:
    room = Room(V12)
    room.check(room.membership_event(ALICE, ALICE, "join", prev_events=["$create"]))

"""PDU format checks for room versions 10 and 11."""

from __future__ import annotations

from typing import Any

import pytest

from core.canonical_json import encode_canonical
from core.errors import M_BAD_JSON, M_TOO_LARGE, JsonDict, MatrixError
from core.event_format import MAX_PDU_BYTES, check_pdu_format
from core.room_versions import V10, V11, RoomVersion

EVENT_ID = "$" + "A" * 43


def valid_pdu(**changes: Any) -> JsonDict:
    pdu: JsonDict = {
        "type": "m.room.member",
        "state_key": "@a:example.org",
        "room_id": "!room:example.org",
        "sender": "@a:example.org",
        "origin_server_ts": 1_700_000_000_000,
        "content": {"membership": "join"},
        "depth": 3,
        "prev_events": [EVENT_ID],
        "auth_events": [EVENT_ID, "$" + "B" * 43],
        "hashes": {"sha256": "aGFzaA"},
        "signatures": {"example.org": {"ed25519:1": "c2ln"}},
        "unsigned": {"age_ts": 5},
    }
    pdu.update(changes)
    return pdu


def assert_rejected(pdu: JsonDict, version: RoomVersion = V10, errcode: str = M_BAD_JSON) -> None:
    with pytest.raises(MatrixError) as info:
        check_pdu_format(pdu, version)
    assert info.value.errcode == errcode


@pytest.mark.parametrize("version", [V10, V11])
def test_valid_pdu_passes(version: RoomVersion) -> None:
    check_pdu_format(valid_pdu(), version)
    no_state_key = valid_pdu(type="m.room.message", content={"body": "x"})
    del no_state_key["state_key"]
    del no_state_key["unsigned"]
    check_pdu_format(no_state_key, version)
    check_pdu_format(valid_pdu(depth=0, prev_events=[], auth_events=[]), version)


@pytest.mark.parametrize(
    "key",
    [
        "type",
        "room_id",
        "sender",
        "origin_server_ts",
        "content",
        "depth",
        "prev_events",
        "auth_events",
        "hashes",
        "signatures",
    ],
)
def test_required_keys(key: str) -> None:
    pdu = valid_pdu()
    del pdu[key]
    assert_rejected(pdu)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": 5},
        {"state_key": None},
        {"state_key": 1},
        {"sender": "not-a-user"},
        {"sender": "@:example.org"},
        {"room_id": "room:example.org"},
        {"room_id": "!room"},
        {"room_id": "!ro\x00om:example.org"},
        {"content": []},
        {"content": "x"},
        {"depth": -1},
        {"depth": "3"},
        {"depth": True},
        {"depth": 2**53},
        {"origin_server_ts": "now"},
        {"origin_server_ts": False},
        {"prev_events": EVENT_ID},
        {"prev_events": [5]},
        {"auth_events": ["not-an-event-id"]},
        {"auth_events": [EVENT_ID] * 11},
        {"prev_events": [EVENT_ID] * 21},
        {"hashes": {}},
        {"hashes": {"sha256": 5}},
        {"hashes": "x"},
        {"signatures": []},
        {"signatures": {"example.org": "sig"}},
        {"signatures": {"example.org": {"ed25519:1": 5}}},
        {"unsigned": []},
    ],
)
def test_malformed_fields(changes: JsonDict) -> None:
    assert_rejected(valid_pdu(**changes))


def test_limits_are_inclusive() -> None:
    check_pdu_format(valid_pdu(auth_events=[EVENT_ID] * 10, prev_events=[EVENT_ID] * 20), V10)
    check_pdu_format(valid_pdu(depth=2**53 - 1), V10)


def test_backfilled_events_are_not_held_to_the_graph_limits() -> None:
    wide = valid_pdu(auth_events=[EVENT_ID] * 11, prev_events=[EVENT_ID] * 21)
    assert_rejected(wide)
    check_pdu_format(wide, V10, graph_limits=False)
    with pytest.raises(MatrixError):
        check_pdu_format(valid_pdu(prev_events=["not-an-event-id"] * 21), V10, graph_limits=False)


@pytest.mark.parametrize("key", ["type", "state_key"])
def test_type_and_state_key_are_limited_to_255_bytes(key: str) -> None:
    topic = {"type": "m.room.topic", "content": {"topic": "t"}}
    check_pdu_format(valid_pdu(**{**topic, key: "é" * 127 + "x"}), V10)
    assert_rejected(valid_pdu(**{**topic, key: "é" * 128}))


@pytest.mark.parametrize("state_key", ["not a user", "", "@missing-server", "!room:example.org"])
def test_a_membership_state_key_must_be_a_user_id(state_key: str) -> None:
    assert_rejected(valid_pdu(state_key=state_key))


def test_a_membership_needs_a_state_key() -> None:
    pdu = valid_pdu()
    del pdu["state_key"]
    assert_rejected(pdu)


def test_sender_and_room_id_length() -> None:
    server = ":example.org"
    assert_rejected(valid_pdu(sender="@" + "a" * (256 - len(server)) + server))
    assert_rejected(valid_pdu(room_id="!" + "a" * (256 - len(server)) + server))
    check_pdu_format(valid_pdu(room_id="!" + "a" * (255 - len(server) - 1) + server), V10)


def test_room_id_localpart_may_be_non_ascii() -> None:
    check_pdu_format(valid_pdu(room_id="!ünïcode:example.org"), V10)


@pytest.mark.parametrize("value", [1.5, 2**53, -(2**53), {"nested": [0.0]}])
def test_strict_canonical_json(value: object) -> None:
    assert_rejected(valid_pdu(content={"membership": "join", "x": value}))


def test_size_limit_counts_the_whole_canonical_event() -> None:
    pdu = valid_pdu()
    pdu["content"]["pad"] = ""
    overhead = len(encode_canonical(pdu))
    pdu["content"]["pad"] = "x" * (MAX_PDU_BYTES - overhead)
    check_pdu_format(pdu, V10)
    pdu["content"]["pad"] += "x"
    assert_rejected(pdu, errcode=M_TOO_LARGE)
    # Signatures count too.
    pdu["content"]["pad"] = "x" * (MAX_PDU_BYTES - overhead)
    pdu["signatures"]["example.org"]["ed25519:2"] = "y"
    assert_rejected(pdu, errcode=M_TOO_LARGE)


def test_redacts_location_per_version() -> None:
    redaction = valid_pdu(type="m.room.message", content={})
    del redaction["state_key"]
    redaction["type"] = "m.room.redaction"
    check_pdu_format(redaction | {"redacts": EVENT_ID}, V10)
    assert_rejected(redaction | {"redacts": 5}, V10)
    check_pdu_format(redaction | {"content": {"redacts": EVENT_ID}}, V11)
    assert_rejected(redaction | {"content": {"redacts": 5}}, V11)

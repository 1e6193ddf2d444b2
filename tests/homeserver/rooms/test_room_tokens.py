"""Timeline tokens: what parses, what does not."""

from __future__ import annotations

import pytest

from core.errors import MatrixError
from homeserver.services.rooms.room_tokens import ROOM_START, parse_position, position_token


@pytest.mark.parametrize(
    ("token", "position"),
    [
        ("t0", 0),
        ("t42", 42),
        ("t-7", -7),
        ("s42", 42),
        ("s42_1_2_3_4_5_6", 42),
        ("t" + "9" * 18, 10**18 - 1),
        ("t-" + "9" * 18, ROOM_START),
    ],
)
def test_valid_tokens(token: str, position: int) -> None:
    assert parse_position(token) == position


@pytest.mark.parametrize(
    "token",
    [
        "",
        "t",
        "s",
        "t-",
        "s-1",
        "t--1",
        "t1.5",
        "T1",
        "x1",
        "t1_2",
        "s1_",
        "s1_a",
        "t" + "9" * 19,
        " t1",
    ],
)
def test_invalid_tokens(token: str) -> None:
    with pytest.raises(MatrixError) as raised:
        parse_position(token)
    assert raised.value.errcode == "M_INVALID_PARAM"


def test_round_trip() -> None:
    assert parse_position(position_token(17)) == 17
    assert parse_position(position_token(-17)) == -17
    assert position_token(ROOM_START - 5) == position_token(ROOM_START)

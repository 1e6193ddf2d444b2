"""Integer query parameters follow one rule, and identifiers map to one Matrix error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.errors import M_INVALID_PARAM, MatrixError
from homeserver.api.http import MAX_QUERY_INT, query_int
from homeserver.services.common.params import checked_event_id, checked_room_id, checked_user_id


@pytest.mark.parametrize(
    ("raw", "value"), [("0", 0), ("42", 42), ("007", 7), (str(MAX_QUERY_INT), MAX_QUERY_INT)]
)
def test_decimal_digits_are_read(raw: str, value: int) -> None:
    assert query_int({"limit": raw}, "limit") == value


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1_000",
        "1.5",
        "²",
        "١٢",
        "0x10",
        str(MAX_QUERY_INT + 1),
        "9" * 40,
    ],
)
def test_anything_else_is_invalid_param(raw: str) -> None:
    with pytest.raises(MatrixError) as caught:
        query_int({"limit": raw}, "limit")
    assert caught.value.errcode == M_INVALID_PARAM


def test_absent_gives_the_default_and_maximum_is_enforced() -> None:
    assert query_int({}, "limit") is None
    assert query_int({}, "timeout", 30) == 30
    assert query_int({"width": "800"}, "width", maximum=800) == 800
    with pytest.raises(MatrixError):
        query_int({"width": "801"}, "width", maximum=800)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (checked_room_id, "!r:example.org", "r:example.org"),
        (checked_user_id, "@u:example.org", "@u"),
        (checked_event_id, "$abc", "abc"),
    ],
)
def test_identifiers_are_checked_with_one_error(
    check: Callable[[object], str], good: str, bad: str
) -> None:
    assert check(good) == good
    for value in (bad, 5, None):
        with pytest.raises(MatrixError) as caught:
            check(value)
        assert caught.value.errcode == M_INVALID_PARAM
        assert caught.value.message.startswith("Invalid ")

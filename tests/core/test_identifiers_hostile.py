"""Identifier parsers refuse NUL, lone surrogates and other characters no store can keep."""

from __future__ import annotations

import pytest

from core.identifiers import (
    parse_device_id,
    parse_event_id,
    parse_room_alias,
    parse_room_id,
    parse_user_id,
)

PARSERS = [parse_user_id, parse_room_id, parse_room_alias, parse_event_id, parse_device_id]


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (parse_user_id, "@al\x00ice:example.org"),
        (parse_user_id, "@alice:exam\x00ple.org"),
        (parse_room_id, "!ro\x00om:example.org"),
        (parse_room_alias, "#ro\x00om:example.org"),
        (parse_room_alias, "#ro\ud800om:example.org"),
        (parse_event_id, "$ev\x00ent"),
        (parse_device_id, "DEV\x00ICE"),
        (parse_user_id, "@al\ud800ice:example.org"),
        (parse_event_id, "$\udfff"),
        (parse_device_id, "\ud800"),
    ],
)
def test_forbidden_characters_are_refused(parse: object, value: str) -> None:
    with pytest.raises(ValueError):
        parse(value)  # type: ignore[operator]


def test_alias_may_hold_other_unicode() -> None:
    assert (
        parse_room_alias("#caf\u00e9 \U0001f600:example.org") == "#caf\u00e9 \U0001f600:example.org"
    )


@pytest.mark.parametrize("parse", PARSERS)
def test_overlong_surrogate_strings_fail_with_value_error(parse: object) -> None:
    with pytest.raises(ValueError):
        parse("\ud800" * 300)  # type: ignore[operator]

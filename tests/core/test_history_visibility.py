"""The history visibility rules (spec: "Room History Visibility", server behaviour)."""

from __future__ import annotations

import pytest

from core.history_visibility import (
    StateAtEvent,
    allowed,
    may_see,
    membership_of,
    server_may_see,
    visibility_of,
)

MEMBERSHIPS = ("join", "invite", "leave", "ban", "knock")


@pytest.mark.parametrize("membership", MEMBERSHIPS)
@pytest.mark.parametrize("joined_later", [True, False])
def test_world_readable_allows_everyone(membership: str, joined_later: bool) -> None:
    assert allowed(StateAtEvent("world_readable", membership), joined_later)


@pytest.mark.parametrize("visibility", ["shared", "invited", "joined"])
def test_joined_members_see_everything(visibility: str) -> None:
    assert allowed(StateAtEvent(visibility, "join"), joined_later=False)


@pytest.mark.parametrize(
    ("visibility", "membership", "joined_later", "expected"),
    [
        ("shared", "leave", True, True),  # joined after the event was sent
        ("shared", "leave", False, False),  # never (or not since) joined
        ("shared", "invite", False, False),
        ("shared", "invite", True, True),
        ("invited", "invite", False, True),
        ("invited", "leave", True, False),
        ("joined", "invite", True, False),
        ("joined", "leave", True, False),
        ("joined", "ban", False, False),
        ("invited", "knock", True, False),
    ],
)
def test_non_joined_cases(
    visibility: str, membership: str, joined_later: bool, expected: bool
) -> None:
    assert allowed(StateAtEvent(visibility, membership), joined_later) is expected


def test_before_state_counts_only_when_given() -> None:
    hidden = StateAtEvent("joined", "leave")
    readable = StateAtEvent("world_readable", "leave")
    assert not may_see(hidden, None, joined_later=False)
    # An `m.room.history_visibility` event away from world_readable stays visible.
    assert may_see(hidden, readable, joined_later=False)
    # A user's own leave: joined before it.
    assert may_see(StateAtEvent("joined", "leave"), StateAtEvent("joined", "join"), False)


def test_unknown_values_read_as_defaults() -> None:
    assert visibility_of({"history_visibility": "everyone"}) == "shared"
    assert visibility_of({"history_visibility": 3}) == "shared"
    assert visibility_of(None) == "shared"
    assert visibility_of({"history_visibility": "joined"}) == "joined"
    assert membership_of({}) == "leave"
    assert membership_of(None) == "leave"
    assert membership_of({"membership": "invite"}) == "invite"


@pytest.mark.parametrize(
    ("visibility", "memberships", "expected"),
    [
        ("world_readable", [], True),
        ("shared", [], True),  # a server in the room now reads shared history
        ("shared", ["leave"], True),
        ("joined", [], False),
        ("joined", ["invite"], False),
        ("joined", ["leave", "ban"], False),
        ("joined", ["leave", "join"], True),  # one joined user is enough
        ("invited", ["invite"], True),
        ("invited", ["knock", "leave"], False),
        ("invited", [], False),
        ("invited", ["join"], True),
    ],
)
def test_what_a_server_may_see(visibility: str, memberships: list[str], expected: bool) -> None:
    assert server_may_see(visibility, memberships) is expected

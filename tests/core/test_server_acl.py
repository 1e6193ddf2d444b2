"""Server ACL matching (`core.server_acl`): the spec's order, globs, ports and IP literals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.server_acl import ServerAcl, host_of


def acl(**content: Any) -> ServerAcl:
    return ServerAcl.from_content(content)


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("example.org", "example.org"),
        ("example.org:8448", "example.org"),
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4:80", "1.2.3.4"),
        ("[::1]", "[::1]"),
        ("[::1]:8448", "[::1]"),
        ("[2001:db8::1]:443", "[2001:db8::1]"),
    ],
)
def test_host_of_drops_the_port(name: str, host: str) -> None:
    assert host_of(name) == host


def test_the_spec_example() -> None:
    rules = acl(allow=["*"], deny=["*.evil.com", "evil.com"], allow_ip_literals=False)
    assert rules.allows("matrix.org")
    assert rules.allows("good.example:8448")
    assert not rules.allows("evil.com")
    assert not rules.allows("evil.com:8448")
    assert not rules.allows("evil.com:1234")
    assert not rules.allows("sub.evil.com")
    assert rules.allows("notevil.com")
    assert not rules.allows("1.2.3.4")
    assert not rules.allows("[::1]:8448")


def test_deny_wins_over_allow() -> None:
    rules = acl(allow=["hs2.test", "*.test"], deny=["hs2.test"])
    assert not rules.allows("hs2.test")
    assert rules.allows("hs1.test")


def test_no_allow_denies_every_server() -> None:
    assert not acl().allows("example.org")
    assert not acl(deny=["other.org"]).allows("example.org")
    assert not acl(allow=[]).allows("example.org")


def test_only_listed_servers_are_allowed() -> None:
    rules = acl(allow=["hs1.test", "*.example.org"])
    assert rules.allows("hs1.test:8448")
    assert rules.allows("a.b.example.org")
    assert not rules.allows("example.org")
    assert not rules.allows("hs2.test")


def test_globs_match_whole_names_ignoring_case() -> None:
    rules = acl(allow=["hs?.TEST", "m*x.org"])
    assert rules.allows("HS1.test")
    assert rules.allows("hs9.test:1")
    assert not rules.allows("hs10.test")
    assert not rules.allows("xhs1.test")
    assert rules.allows("mx.org")
    assert rules.allows("matrix.org")
    assert not rules.allows("matrix.org.evil")
    assert acl(allow=["*"]).allows("anything.at.all")


def test_ip_literals_are_allowed_unless_refused() -> None:
    assert acl(allow=["*"]).allows("10.0.0.1:8448")
    assert acl(allow=["*"], allow_ip_literals=True).allows("[::1]")
    assert not acl(allow=["*"], allow_ip_literals=False).allows("10.0.0.1")
    assert acl(allow=["*"], allow_ip_literals=False).allows("host10.example")
    # A literal can still be named in the allow list, but the refusal comes first.
    assert not acl(allow=["10.0.0.1"], allow_ip_literals=False).allows("10.0.0.1")
    assert acl(allow=["10.0.0.*"]).allows("10.0.0.7")


def test_a_malformed_acl_is_read_with_the_defaults() -> None:
    rules = acl(allow="*", deny=[1, None, "evil.com"], allow_ip_literals="no")
    assert rules == ServerAcl(allow=(), deny=("evil.com",), allow_ip_literals=True)
    assert not rules.allows("good.org")
    rules = acl(allow=[["*"], "*"], deny={"evil.com": True})
    assert rules.allows("evil.com")


def test_glob_metacharacters_of_regexes_are_literal() -> None:
    rules = acl(allow=["a.b", "(x)|y"])
    assert rules.allows("a.b")
    assert not rules.allows("aXb")
    assert rules.allows("(x)|y")
    assert not rules.allows("y")


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
_names = st.lists(_label, min_size=1, max_size=4).map(".".join)


@settings(deadline=None)
@given(_names, st.integers(min_value=1, max_value=65535))
def test_the_port_never_changes_the_answer(name: str, port: int) -> None:
    for rules in (acl(allow=["*"], deny=[name]), acl(allow=[name]), acl(allow=["*.*"])):
        assert rules.allows(name) == rules.allows(f"{name}:{port}")


@settings(deadline=None)
@given(_names)
def test_a_name_matches_itself_and_star(name: str) -> None:
    assert acl(allow=[name]).allows(name)
    assert acl(allow=[name.upper()]).allows(name)
    assert acl(allow=["*"]).allows(name)
    assert not acl(allow=["*"], deny=[name]).allows(name)

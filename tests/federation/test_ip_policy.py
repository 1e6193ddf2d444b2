"""The outbound IP policy: default deny ranges, allow-list exceptions, embedded IPv4 forms."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from federation.ip_policy import AddressBlockedError, GuardedResolver, IpPolicy, parse_ranges


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address under test, not a bind)
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "not-an-ip",
        "",
    ],
)
def test_default_policy_refuses_non_public(address: str) -> None:
    assert not IpPolicy().allows(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "172.32.0.1"]
)
def test_default_policy_allows_public(address: str) -> None:
    assert IpPolicy().allows(address)


def test_allowlist_wins_over_denylist() -> None:
    policy = IpPolicy.from_config(None, ["127.0.0.0/8"])
    assert policy.allows("127.0.0.1")
    assert policy.allows("::ffff:127.0.0.1")
    assert not policy.allows("10.0.0.1")
    assert not policy.allows("::1")


def test_custom_denylist_replaces_default() -> None:
    policy = IpPolicy.from_config(["8.8.8.0/24"], [])
    assert not policy.allows("8.8.8.8")
    assert policy.allows("127.0.0.1")


def test_parse_ranges_names_a_bad_range() -> None:
    assert [str(n) for n in parse_ranges(["10.0.0.1/8", "::1"])] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match=r"300\.0\.0\.0"):
        parse_ranges(["10.0.0.0/8", "300.0.0.0/8"])


def test_check_host_checks_literals_only() -> None:
    policy = IpPolicy()
    policy.check_host("example.org")
    policy.check_host("8.8.8.8")
    with pytest.raises(AddressBlockedError):
        policy.check_host("127.0.0.1")
    with pytest.raises(AddressBlockedError):
        policy.check_host("[::1]")


class _Answers(AbstractResolver):
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_guarded_resolver_drops_refused_addresses() -> None:
    resolver = GuardedResolver(_Answers(["10.0.0.1", "8.8.8.8"]), IpPolicy())
    results = await resolver.resolve("mixed.test", 8448)
    assert [r["host"] for r in results] == ["8.8.8.8"]


async def test_guarded_resolver_refuses_names_with_no_permitted_address() -> None:
    resolver = GuardedResolver(_Answers(["127.0.0.1", "::1"]), IpPolicy())
    with pytest.raises(AddressBlockedError):
        await resolver.resolve("internal.test", 8448)

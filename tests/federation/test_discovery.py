"""Server name resolution, step by step as the spec lists it, with fake DNS and well-known."""

from __future__ import annotations

import random

import pytest

from core.identifiers import ServerName
from federation.discovery import (
    MappingSrvResolver,
    ResolvedServer,
    ServerResolver,
    SrvRecord,
    split_server_name,
)


class FakeWellKnown:
    """`.well-known` answers from a map; records which hosts were asked."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def delegated_server(self, hostname: str) -> ServerName | None:
        self.asked.append(hostname)
        answer = self.answers.get(hostname)
        return None if answer is None else ServerName(answer)


def _resolver(
    well_known: dict[str, str] | None = None,
    srv: dict[str, list[SrvRecord]] | None = None,
    overrides: dict[str, str] | None = None,
) -> tuple[ServerResolver, FakeWellKnown]:
    fake = FakeWellKnown(well_known or {})
    resolver = ServerResolver(
        srv=MappingSrvResolver(srv or {}),
        well_known=fake,
        overrides=overrides,
        rng=random.Random(1),
    )
    return resolver, fake


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1.2.3.4", ResolvedServer("1.2.3.4", 8448, "1.2.3.4", None)),
        ("1.2.3.4:443", ResolvedServer("1.2.3.4", 443, "1.2.3.4:443", None)),
        ("[2001:db8::1]", ResolvedServer("2001:db8::1", 8448, "[2001:db8::1]", None)),
        ("[2001:db8::1]:9000", ResolvedServer("2001:db8::1", 9000, "[2001:db8::1]:9000", None)),
        (
            "example.org:1234",
            ResolvedServer("example.org", 1234, "example.org:1234", "example.org"),
        ),
    ],
)
async def test_ip_literals_and_explicit_ports_skip_well_known(
    name: str, expected: ResolvedServer
) -> None:
    resolver, fake = _resolver(well_known={"example.org": "elsewhere.org"})
    assert await resolver.resolve(name) == expected
    assert fake.asked == []


async def test_well_known_delegation_to_an_ip_literal() -> None:
    resolver, _ = _resolver(well_known={"example.org": "5.6.7.8"})
    assert await resolver.resolve("example.org") == ResolvedServer("5.6.7.8", 8448, "5.6.7.8", None)
    resolver, _ = _resolver(well_known={"example.org": "[2001:db8::2]:8000"})
    assert await resolver.resolve("example.org") == ResolvedServer(
        "2001:db8::2", 8000, "[2001:db8::2]:8000", None
    )


async def test_well_known_delegation_with_a_port() -> None:
    resolver, _ = _resolver(
        well_known={"example.org": "matrix.example.org:443"},
        srv={"_matrix-fed._tcp.matrix.example.org": [SrvRecord(1, 1, 9999, "ignored.org")]},
    )
    assert await resolver.resolve("example.org") == ResolvedServer(
        "matrix.example.org", 443, "matrix.example.org:443", "matrix.example.org"
    )


async def test_well_known_delegation_then_srv_of_the_delegated_name() -> None:
    resolver, _ = _resolver(
        well_known={"example.org": "matrix.example.org"},
        srv={
            "_matrix-fed._tcp.example.org": [SrvRecord(1, 1, 1111, "wrong.org")],
            "_matrix-fed._tcp.matrix.example.org": [SrvRecord(10, 5, 8443, "fed.host.net")],
        },
    )
    # Host and SNI name the delegated server, the connection goes to the SRV target.
    assert await resolver.resolve("example.org") == ResolvedServer(
        "fed.host.net", 8443, "matrix.example.org", "matrix.example.org"
    )


async def test_well_known_delegation_deprecated_srv_then_default_port() -> None:
    resolver, _ = _resolver(
        well_known={"example.org": "matrix.example.org"},
        srv={"_matrix._tcp.matrix.example.org": [SrvRecord(1, 1, 8450, "old.host.net")]},
    )
    assert await resolver.resolve("example.org") == ResolvedServer(
        "old.host.net", 8450, "matrix.example.org", "matrix.example.org"
    )
    resolver, _ = _resolver(well_known={"example.org": "matrix.example.org"})
    assert await resolver.resolve("example.org") == ResolvedServer(
        "matrix.example.org", 8448, "matrix.example.org", "matrix.example.org"
    )


async def test_no_well_known_srv_order_and_default() -> None:
    both = {
        "_matrix-fed._tcp.example.org": [SrvRecord(1, 1, 8001, "new.example.org")],
        "_matrix._tcp.example.org": [SrvRecord(1, 1, 8002, "old.example.org")],
    }
    resolver, fake = _resolver(srv=both)
    assert await resolver.resolve("example.org") == ResolvedServer(
        "new.example.org", 8001, "example.org", "example.org"
    )
    assert fake.asked == ["example.org"]
    resolver, _ = _resolver(srv={"_matrix._tcp.example.org": both["_matrix._tcp.example.org"]})
    assert await resolver.resolve("example.org") == ResolvedServer(
        "old.example.org", 8002, "example.org", "example.org"
    )
    resolver, _ = _resolver()
    assert await resolver.resolve("example.org") == ResolvedServer(
        "example.org", 8448, "example.org", "example.org"
    )


async def test_srv_priority_and_weight() -> None:
    records = [
        SrvRecord(20, 100, 1, "backup.org"),
        SrvRecord(10, 0, 2, "zero-weight.org"),
        SrvRecord(10, 50, 3, "main.org"),
    ]
    resolver, _ = _resolver(srv={"_matrix-fed._tcp.example.org": records})
    targets = {(await resolver.resolve("example.org")).host for _ in range(20)}
    assert targets == {"main.org"}


async def test_srv_target_dot_means_no_service() -> None:
    resolver, _ = _resolver(srv={"_matrix-fed._tcp.example.org": [SrvRecord(1, 1, 5, ".")]})
    assert (await resolver.resolve("example.org")).port == 8448


async def test_overrides_keep_host_header_and_sni() -> None:
    resolver, fake = _resolver(overrides={"hs1.test": "127.0.0.1:34567", "1.2.3.4": "127.0.0.1:1"})
    assert await resolver.resolve("hs1.test") == ResolvedServer(
        "127.0.0.1", 34567, "hs1.test", "hs1.test"
    )
    assert await resolver.resolve("1.2.3.4") == ResolvedServer("127.0.0.1", 1, "1.2.3.4", None)
    assert fake.asked == []
    with pytest.raises(ValueError, match="host:port"):
        _resolver(overrides={"hs1.test": "127.0.0.1"})


@pytest.mark.parametrize("name", ["", "bad name", "host:99999", "[::1", "a:b:c"])
async def test_invalid_server_names(name: str) -> None:
    resolver, _ = _resolver()
    with pytest.raises(ValueError):
        await resolver.resolve(name)


def test_split_server_name() -> None:
    assert split_server_name("a.org") == ("a.org", None)
    assert split_server_name("a.org:80") == ("a.org", 80)
    assert split_server_name("[::1]:80") == ("::1", 80)
    assert split_server_name("[::1]") == ("::1", None)

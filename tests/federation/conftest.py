"""Fixtures of the federation library tests: a test CA, a clock and client factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver

from core.signing import SigningKey, generate_signing_key
from federation.client import ClientSettings, FederationClient
from federation.discovery import MappingSrvResolver, SrvRecord
from federation.ip_policy import IpPolicy
from tests.federation.helpers import TestClock
from tests.federation.tls import TestCA

OUR_NAME = "us.test"
MakeClient = Callable[..., FederationClient]


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    """A fresh test CA."""
    return TestCA(tmp_path / "ca")


@pytest.fixture
def clock() -> TestClock:
    """A clock that moves only when the test says so."""
    return TestClock()


@pytest.fixture
def our_key() -> SigningKey:
    """Our server's signing key."""
    return generate_signing_key("ours")


@pytest.fixture
async def make_client(
    ca: TestCA, clock: TestClock, our_key: SigningKey
) -> AsyncIterator[MakeClient]:
    """Build federation clients that trust the test CA and may reach loopback; closed after."""
    clients: list[FederationClient] = []

    def make(
        *,
        overrides: Mapping[str, str] | None = None,
        resolver: AbstractResolver | None = None,
        srv: Mapping[str, list[SrvRecord]] | None = None,
        policy: IpPolicy | None = None,
        **settings: object,
    ) -> FederationClient:
        client = FederationClient(
            ClientSettings(
                server_name=OUR_NAME,
                ca_certificates_path=str(ca.ca_path),
                overrides=overrides or {},
                **settings,  # type: ignore[arg-type]
            ),
            our_key,
            clock=clock,
            policy=policy or IpPolicy.from_config(None, ["127.0.0.0/8"]),
            srv_resolver=MappingSrvResolver(srv or {}),
            name_resolver=resolver,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()

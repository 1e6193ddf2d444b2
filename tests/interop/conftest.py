"""Fixtures of the Synapse interop tests: one Synapse for the session, a Tessera per test.

Both servers are named `localhost:<federation port>` and present the same certificate for
`localhost`, issued by one `TestCA` that each trusts for its outbound requests; neither needs
a well-known or SRV lookup to find the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.federation.tls import IssuedCert, TestCA
from tests.homeserver.federation.servers import FederatedServer, localhost_server
from tests.interop.synapse import SynapseServer, start_synapse


@pytest.fixture(scope="session")
def interop_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The CA both servers trust."""
    return TestCA(tmp_path_factory.mktemp("interop-ca"))


@pytest.fixture(scope="session")
def localhost_cert(interop_ca: TestCA) -> IssuedCert:
    """A certificate for `localhost`, presented by both servers."""
    return interop_ca.issue("localhost", "127.0.0.1")


@pytest.fixture(scope="session")
def synapse(
    tmp_path_factory: pytest.TempPathFactory, interop_ca: TestCA, localhost_cert: IssuedCert
) -> Iterator[SynapseServer]:
    """A Synapse shared by every interop test (each test registers users of its own)."""
    server = start_synapse(tmp_path_factory.mktemp("synapse"), interop_ca, localhost_cert)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
async def tessera(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    interop_ca: TestCA,
    localhost_cert: IssuedCert,
) -> AsyncIterator[FederatedServer]:
    """A Tessera on each backend, named after its federation port (a new name per test)."""
    async with localhost_server(str(request.param), tmp_path, interop_ca, localhost_cert) as hs:
        yield hs

"""Fixtures of the federation tests: two live servers federating on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.homeserver.federation.servers import FederatedServer, federation_of


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend of every server in the test."""
    return str(request.param)


@pytest.fixture
async def pair(backend: str, tmp_path: Path) -> AsyncIterator[list[FederatedServer]]:
    """`hs1.test` and `hs2.test`, federating with each other."""
    async with federation_of(backend, tmp_path) as servers:
        yield servers

"""Bad answers the long fuzz run found, kept as explicit cases so the bounded run always has them.

Each entry is (endpoint, valid-body path to replace, raw JSON fragment): the mutation that once
drew a 5xx. New findings of `make fuzz` are added here once fixed.
"""

from __future__ import annotations

import pytest

from tests.fuzz.mutations import Path, replace
from tests.fuzz.session import Fuzz

FOUND: list[tuple[str, Path, bytes]] = [
    # SQLite refuses LIKE patterns over 50,000 bytes ("LIKE or GLOB pattern too complex").
    ("user_directory_search", ("search_term",), b'"' + b"x" * 70_000 + b'"'),
    ("public_rooms_filtered", ("filter", "generic_search_term"), b'"' + b"x" * 70_000 + b'"'),
]


@pytest.mark.parametrize(("name", "path", "fragment"), FOUND, ids=[f[0] for f in FOUND])
def test_former_findings(fuzz: Fuzz, name: str, path: Path, fragment: bytes) -> None:
    """The mutation is answered with a JSON 4xx and nothing breaks."""
    start = len(fuzz.tally.findings)
    body = replace(fuzz.valid_body(name), path, fragment)
    fuzz.send(name, f"regression: {'/'.join(map(str, path))} = {fragment[:20]!r}", body=body)
    fuzz.verify(name, start, full=False)

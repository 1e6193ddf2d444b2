"""Mutated path and query parameters on every endpoint: no 5xx, JSON errors, reads intact.

Path parameters get hostile values (NUL, `%00`, `..`, encoded slashes, wrong sigils, Unicode,
very long), encoded into their segment or inserted raw; query parameters get huge, negative,
non-numeric, deeply nested JSON and invalid-Unicode values.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from core.endpoints import ENDPOINTS
from tests.fuzz.mutations import (
    DEFAULT_QUERY_NAMES,
    PATH_VALUES,
    QUERY_NAMES,
    QUERY_VALUES,
    RAW_PATH_VALUES,
    path_mutations,
    query_mutations,
    query_names,
    rotate,
)
from tests.fuzz.session import FUZZ_SETTINGS, ORDERED, SHARE, WITH_PARAMS, Fuzz


def _body(fuzz: Fuzz, name: str) -> bytes | None:
    if ENDPOINTS[name].method == "GET":
        return None
    return fuzz.valid_body_bytes(name)


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_mutated_path_parameters(fuzz: Fuzz, name: str) -> None:
    """Every hostile value once, on each parameter in turn, then hypothesis-chosen ones."""
    start = len(fuzz.tally.findings)
    params = ENDPOINTS[name].params
    everything = tuple((v, False) for v in PATH_VALUES) + tuple((v, True) for v in RAW_PATH_VALUES)
    offset = WITH_PARAMS.index(name) * 7
    cases = rotate(everything, None if SHARE is None else 7 * SHARE, offset)
    for index, (value, raw) in enumerate(cases, offset):
        param = params[index % len(params)]
        fuzz.send(
            name,
            f"path {param}={value[:40]!r} raw={raw}",
            body=_body(fuzz, name),
            path={param: (value, raw)},
        )

    @FUZZ_SETTINGS
    @given(path_mutations(params))
    def generated(case: tuple[str, str, bool]) -> None:
        param, value, raw = case
        fuzz.send(
            name,
            f"path {param}={value[:40]!r} raw={raw}",
            body=_body(fuzz, name),
            path={param: (value, raw)},
        )

    generated()
    fuzz.verify(name, start, full=ENDPOINTS[name].method != "GET")


QUERIED = [n for n in ORDERED if ENDPOINTS[n].method == "GET" or n in QUERY_NAMES]
"""GET endpoints, and the others that read query parameters."""


@pytest.mark.parametrize("name", QUERIED)
def test_mutated_query_parameters(fuzz: Fuzz, name: str) -> None:
    """Every hostile value on each attacked parameter, then hypothesis-chosen combinations.

    Endpoints with parameters of their own get every value on each; the others get the values
    spread over `access_token` and `limit`.
    """
    start = len(fuzz.tally.findings)
    names = query_names(name)
    spread = names == DEFAULT_QUERY_NAMES
    offset = QUERIED.index(name) * 4
    values = rotate(QUERY_VALUES, None if SHARE is None else 4 * SHARE, offset)
    cases = [
        f"{names[index % len(names)]}={value}" if spread else f"{param}={value}"
        for param in (names[:1] if spread else names)
        for index, value in enumerate(values)
    ]
    for query in cases:
        fuzz.send(name, f"query {query[:60]}", body=_body(fuzz, name), query=query)

    @FUZZ_SETTINGS
    @given(query_mutations(names))
    def generated(query: str) -> None:
        fuzz.send(name, f"query {query[:60]}", body=_body(fuzz, name), query=query)

    generated()
    fuzz.verify(name, start, full=ENDPOINTS[name].method != "GET")

"""Mutated JSON bodies on every endpoint that takes one: no 5xx, JSON errors, reads intact.

Each endpoint's valid example body gets the fixed catalogue (every fragment family at a leaf in
turn, then whole-body replacements; in the bounded run a share that rotates between endpoints),
then hypothesis-chosen mutations.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.mutations import Mutation, body_catalogue, body_mutations
from tests.fuzz.session import FUZZ_SETTINGS, SHARE, WITH_BODY, Fuzz


@pytest.mark.parametrize("name", WITH_BODY)
def test_mutated_bodies(fuzz: Fuzz, name: str) -> None:
    """Wrong types, deep nesting, bad Unicode, huge numbers, NUL, oversized and non-JSON bodies."""
    start = len(fuzz.tally.findings)
    body = fuzz.valid_body(name)
    for mutation in body_catalogue(body, SHARE, WITH_BODY.index(name)):
        fuzz.send(name, mutation.label, body=mutation.data)

    @FUZZ_SETTINGS
    @given(body_mutations(body))
    def generated(mutation: Mutation) -> None:
        fuzz.send(name, mutation.label, body=mutation.data)

    generated()
    fuzz.verify(name, start)

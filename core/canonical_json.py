"""Canonical JSON (spec appendix "Canonical JSON") and the JSON type used at I/O edges.

Canonical JSON is what gets hashed and signed: sorted keys, no insignificant whitespace, UTF-8,
integers only in [-(2**53)+1, 2**53-1], no floats. Encoding is delegated to `canonicaljson`,
which implements exactly that; this module adds the checks the spec requires (`core.json_ingress`
holds the rules, shared with every parser of untrusted JSON).
"""

from __future__ import annotations

from typing import Any, Final

import canonicaljson

from core.errors import JsonDict
from core.json_ingress import CANONICAL_INT_MAX, MAX_DEPTH, json_problem

__all__ = ["CANONICAL_INT_MAX", "ENCODE_MAX_DEPTH", "JsonDict", "encode_canonical"]

# Ingress admits MAX_DEPTH levels; envelopes (a PDU around content, a transaction around PDUs)
# add a few. Checked iteratively before encoding, so the encoder never exhausts the stack.
ENCODE_MAX_DEPTH: Final = 2 * MAX_DEPTH


def encode_canonical(value: Any) -> bytes:
    """Encode `value` as canonical JSON bytes.

    Raises:
        ValueError: If `value` holds a float, an integer outside the canonical range, a lone
            surrogate (`UnicodeEncodeError`) or nesting deeper than `ENCODE_MAX_DEPTH`.
    """
    problem = json_problem(value, max_depth=ENCODE_MAX_DEPTH, floats=False, strings=False)
    if problem is not None:
        raise ValueError(problem)
    return canonicaljson.encode_canonical_json(value)

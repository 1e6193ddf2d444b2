"""JSON columns: written only if they can be read back, read back row by row.

Invariant ("accepted means readable"): whatever a store writes to a JSON column can be decoded
and encoded again, as canonical JSON when it is signed or hashed, and served. `dump_json` checks
that on write: no nesting beyond `ENCODE_MAX_DEPTH`, no lone surrogates, numbers within the
canonical range (floats are allowed here; services refuse them where canonical JSON is needed).

Repair path: rows stored before these checks, or written around them, may still break the
invariant. `load_json` decodes one value and skips (with a warning naming the table and key,
never the content) a value that does not decode or would not encode again, so one poisoned
row costs its owner that row instead of failing every later response; stores read their rows
through it, most of them by way of `sealing.Sealer.readable`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from core.canonical_json import ENCODE_MAX_DEPTH
from core.errors import M_BAD_JSON, MatrixError
from core.json_ingress import json_problem

logger = logging.getLogger(__name__)

# 16 digits in a row may be a number beyond ±(2**53 - 1) (itself 16 digits long).
_LONG_NUMBER = re.compile(r"[0-9]{16}")

__all__ = ["dump_json", "encode_event", "load_json"]


def dump_json(value: Any, *, sort_keys: bool = False) -> str:
    """The text a JSON column stores for `value` (NUL escaped, so PostgreSQL can hold it).

    Args:
        value: The value to store.
        sort_keys: Sort object keys, for columns compared as text (equal values, equal text).

    Raises:
        MatrixError: `M_BAD_JSON` if the value could not be read back and served.
    """
    problem = json_problem(value, max_depth=ENCODE_MAX_DEPTH)
    if problem is not None:
        raise MatrixError(M_BAD_JSON, problem)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def encode_event(raw: Any) -> str:
    """The stored text of an event's JSON, already checked by the strict ingress (compact)."""
    return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))


def load_json(text: str | bytes | None, *, table: str, key: object) -> Any | None:
    """Decode one stored JSON value, or None (logged) if it breaks the invariant."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        logger.warning("unreadable JSON row skipped table=%s key=%s problem=not JSON", table, key)
        return None
    if _may_break(text):
        problem = json_problem(value, max_depth=ENCODE_MAX_DEPTH)
        if problem is not None:
            logger.warning(
                "unreadable JSON row skipped table=%s key=%s problem=%s", table, key, problem
            )
            return None
    return value


def _may_break(text: str | bytes) -> bool:
    """Cheap screen: only text that is bracket-heavy, has a surrogate escape or a long digit
    run can break the invariant, so only that text gets the full walk."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    brackets = text.count("[") + text.count("{")
    return (
        brackets > ENCODE_MAX_DEPTH
        or "\\ud" in text
        or "\\uD" in text
        or _LONG_NUMBER.search(text) is not None
    )

"""The one door for untrusted JSON: request bodies, JSON in query parameters, federation input.

Everything that arrives from a client or a remote server is parsed here, and everything a store
keeps is checked against the same rules, so whatever is accepted can always be encoded again
(as canonical JSON where the value is signed or hashed) and served.

Limits (each violation is a `MatrixError`, HTTP 400, naming the problem):

- **Size**: checked on the raw bytes before parsing; the caller passes its limit (the request
  body limit of the server, 2 MiB by default; `QUERY_JSON_MAX_BYTES` for JSON in a query string).
- **Depth**: at most `MAX_DEPTH` (64) nested arrays/objects in one document, the outermost
  container counting as 1. Legitimate Matrix JSON stays below 10 (a `/sendToDevice` body with its
  content is about 6); 64 leaves room for rich custom content while staying far below the depth at
  which Python's JSON encoder would exhaust the stack when the value is served again.
- **Unicode**: valid UTF-8 without a byte order mark, no lone surrogates (`"\\ud800"`), no raw
  control characters in strings. An escaped NUL (`"\\u0000"`) is valid JSON and accepted here;
  stores keep JSON as escaped text, and plain text columns refuse NUL themselves.
- **Numbers**: integers (and any number) within the canonical range ±(2**53 - 1); no NaN or
  infinities; floats only where the caller allows them (never in event content, nor anything else
  that is signed or hashed as canonical JSON).
- Duplicate object keys: the last one wins (the parser's behaviour; not rejected).

Errors: `M_NOT_JSON` when the bytes are not JSON at all (syntax, encoding, Unicode), `M_BAD_JSON`
when they are JSON that breaks a limit or has the wrong top-level type, `M_TOO_LARGE` for size;
JSON in a query parameter answers `M_INVALID_PARAM` for all of these, naming the parameter.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from core.errors import M_BAD_JSON, M_INVALID_PARAM, M_NOT_JSON, M_TOO_LARGE, JsonDict, MatrixError
from core.text import is_unicode_text

__all__ = [
    "CANONICAL_INT_MAX",
    "MAX_DEPTH",
    "QUERY_JSON_MAX_BYTES",
    "check_json",
    "json_problem",
    "parse_json",
    "parse_json_object",
    "parse_query_json",
]

CANONICAL_INT_MAX: Final = 2**53 - 1
MAX_DEPTH: Final = 64
QUERY_JSON_MAX_BYTES: Final = 64 * 1024


def parse_json(
    data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH, floats: bool = True
) -> object:
    """Parse untrusted JSON text under every ingress limit.

    Args:
        data: The raw document (bytes as received, or text from a query string).
        max_bytes: The largest accepted document, checked before parsing.
        max_depth: The deepest accepted nesting of arrays/objects.
        floats: Whether non-integral numbers are accepted.

    Raises:
        MatrixError: `M_TOO_LARGE`, `M_NOT_JSON` or `M_BAD_JSON` with the reason.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MatrixError(M_TOO_LARGE, f"JSON larger than {max_bytes} bytes")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit"):
            raise MatrixError(M_BAD_JSON, _depth_message(max_depth)) from exc
        raise MatrixError(M_NOT_JSON, f"Content not JSON: {_reason(exc)}") from exc
    problem = json_problem(value, max_depth=max_depth, floats=floats, strings=False)
    if problem is not None:
        raise MatrixError(M_BAD_JSON, problem)
    return value


def parse_json_object(
    data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH, floats: bool = True
) -> JsonDict:
    """`parse_json` for a document that must be a JSON object.

    Raises:
        MatrixError: as `parse_json`, and `M_BAD_JSON` if the value is not an object.
    """
    value = parse_json(data, max_bytes=max_bytes, max_depth=max_depth, floats=floats)
    if not isinstance(value, dict):
        raise MatrixError(M_BAD_JSON, "Content must be a JSON object.")
    return value


def parse_query_json(text: str, name: str, *, floats: bool = False) -> JsonDict:
    """A JSON object carried in the query parameter `name` (e.g. `filter=`).

    The same rules as for bodies; a violation is a bad parameter rather than a bad body.

    Raises:
        MatrixError: `M_INVALID_PARAM` naming the parameter and the problem.
    """
    try:
        value = parse_json(text, max_bytes=QUERY_JSON_MAX_BYTES, floats=floats)
    except MatrixError as exc:
        raise MatrixError(M_INVALID_PARAM, f"{name}: {exc.message}") from exc
    if not isinstance(value, dict):
        raise MatrixError(M_INVALID_PARAM, f"{name} must be a JSON object")
    return value


def check_json(value: object, *, max_depth: int = MAX_DEPTH, floats: bool = True) -> None:
    """Check a value built in Python (or read back) against the ingress rules.

    Raises:
        MatrixError: `M_BAD_JSON` naming the first problem found.
    """
    problem = json_problem(value, max_depth=max_depth, floats=floats)
    if problem is not None:
        raise MatrixError(M_BAD_JSON, problem)


def json_problem(
    value: object, *, max_depth: int = MAX_DEPTH, floats: bool = True, strings: bool = True
) -> str | None:
    """The first way `value` breaks the ingress rules, or None if it is acceptable.

    Iterative, so arbitrarily deep input cannot exhaust the stack. `strings=False` skips the
    Unicode check for values the parser has already validated.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if strings and not is_unicode_text(item):
                return "invalid Unicode (lone surrogate) in a string"
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not -CANONICAL_INT_MAX <= item <= CANONICAL_INT_MAX:
                return "integer out of range: the limit is ±(2**53 - 1)"
        elif isinstance(item, float):
            problem = _float_problem(item, floats)
            if problem is not None:
                return problem
        elif isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                return _depth_message(max_depth)
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        return "object keys must be strings"
                    if strings and not is_unicode_text(key):
                        return "invalid Unicode (lone surrogate) in an object key"
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        else:
            return f"not a JSON value: {type(item).__name__}"
    return None


def _float_problem(item: float, floats: bool) -> str | None:
    # The parser reads integers too large for 64 bits as floats, so range comes first.
    if item != item or not -CANONICAL_INT_MAX <= item <= CANONICAL_INT_MAX:
        return "number out of range: the limit is ±(2**53 - 1)"
    if not floats:
        return "floats are not allowed here; use integers"
    return None


def _depth_message(max_depth: int) -> str:
    return f"JSON nested too deeply: the limit is {max_depth} levels"


def _reason(exc: orjson.JSONDecodeError) -> str:
    # orjson's messages name the problem and position without echoing the input.
    return str(exc).split(":", 1)[0][:120]

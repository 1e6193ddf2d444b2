"""Hostile variants of valid requests: JSON bodies, path parameters and query parameters.

Each mutation is raw bytes (or raw path/query text), never a Python object re-encoded by `json`,
so the server sees exactly the hostile shape: lone surrogates as `\\ud800` escapes, integers past
2^64, `1e400`, nesting thousands deep, NUL, invalid UTF-8. A body mutation replaces one leaf (or
container) of the valid body with a fragment, or replaces the whole body. Every family has a fixed
catalogue (the systematic sweep, the same every run) and a hypothesis strategy (variety).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

MARK = "\u0001fuzz-mark\u0001"
ANY_CHAR = st.characters(exclude_categories=())
"""Any code point, lone surrogates and controls included."""
_QUOTED_MARK = json.dumps(MARK)

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutation:
    """A mutated request part: its family, what was done, and the bytes to send."""

    kind: str
    detail: str
    data: bytes

    @property
    def label(self) -> str:
        """`kind: detail`, short enough for a report line."""
        return f"{self.kind}: {self.detail[:100]}"


def _deep(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


# Fragments that replace one value of a valid body, by family.
FRAGMENTS: dict[str, tuple[str, ...]] = {
    "wrong-type": ("null", "true", "0", "-1", '""', '"x"', "[]", "{}", '[1,"a",null]', '{"a":{}}'),
    "deep": (_deep(1_000, "[", "]"), _deep(1_000, '{"a":', "}"), _deep(5_000, '[{"a":', "}]")),
    "unicode": ('"\\ud800x"', '"\\udfff"', '"a\\ud800\\ud800"', '{"\\udc00":1}', '["\\ud83d"]'),
    "number": (
        "18446744073709551616",
        "-18446744073709551617",
        "9007199254740992",
        "1e400",
        "-1e400",
        "1.5",
        "0.0",
        "1E2",
        "-0",
        "1" + "0" * 5_000,
        "NaN",
        "Infinity",
    ),
    "nul": ('"\\u0000"', '"a\\u0000b"', '{"\\u0000":"\\u0000"}', '["\\u0000"]'),
    "oversized": ('"' + "x" * 70_000 + '"', '"' + "é" * 600_000 + '"', "[" + "0," * 400_000 + "0]"),
}
# Raw bytes inside a string: invalid UTF-8, an encoded surrogate, a raw control character.
RAW_FRAGMENTS = (b'"\xff\xfe"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"a\x00b"', b'"\x01\n"')
# Whole bodies that replace the valid one.
WHOLE: tuple[bytes, ...] = (
    b"",
    b" ",
    b"{",
    b"}",
    b"not json",
    b"[]",
    b"null",
    b"1",
    b'"s"',
    b'{"a":1,"a":2}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b'{"a":1}garbage',
    b"{'a':1}",
    b'{"a":NaN}',
    b"\x00",
    _deep(2_000, "[", "]", "").encode(),
    _deep(2_000, '{"a":', "}", "{}").encode(),
    b"{" + b'"k":1,' * 60_000 + b'"k":1}',
    b"x" * 2_200_000,
)


def leaf_paths(value: Any, prefix: Path = ()) -> list[Path]:
    """The path of every value inside `value` (containers included), root first."""
    paths: list[Path] = [prefix]
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        paths.extend(leaf_paths(item, (*prefix, key)))
    return paths


def _marked(value: Any, path: Path) -> Any:
    if not path:
        return MARK
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _marked(v, rest) if k == head else v for k, v in value.items()}
    return [_marked(v, rest) if i == head else v for i, v in enumerate(value)]


def replace(body: Any, path: Path, fragment: bytes) -> bytes:
    """The valid `body` as JSON text with the value at `path` replaced by raw `fragment`."""
    text = json.dumps(_marked(body, path)).encode()
    return text.replace(_QUOTED_MARK.encode(), fragment, 1)


def _where(path: Path) -> str:
    return "/".join(str(part) for part in path) or "<root>"


def rotate(items: tuple[Any, ...], count: int | None, offset: int) -> list[Any]:
    """All of `items` (count None), or `count` of them starting at `offset`, wrapping around."""
    if count is None or count >= len(items):
        return list(items)
    return [items[(offset + i) % len(items)] for i in range(count)]


def body_catalogue(body: Any, count: int | None = None, offset: int = 0) -> Iterator[Mutation]:
    """Fragments of every family, each at the next value of the body in turn, then whole bodies.

    Args:
        body: The valid body.
        count: Fragments per family and whole bodies to use (None: all of them).
        offset: Where to start in each list, so different endpoints get different ones.
    """
    paths = leaf_paths(body)
    inner = paths[1:] or paths
    index = offset
    for kind, fragments in (*FRAGMENTS.items(), ("raw-bytes", RAW_FRAGMENTS)):
        for fragment in rotate(fragments, count, offset):
            raw = fragment if isinstance(fragment, bytes) else fragment.encode()
            path = inner[index % len(inner)]
            index += 1
            yield Mutation(kind, f"{_where(path)} = {raw[:40]!r}", replace(body, path, raw))
    for whole in rotate(WHOLE, None if count is None else 3 * count, offset):
        yield Mutation("whole-body", repr(whole[:40]), whole)


def _json_values() -> st.SearchStrategy[str]:
    """Arbitrary JSON text, lone surrogates and big numbers included."""
    text = st.text(ANY_CHAR, max_size=20)
    scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | text
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=12,
    )
    return values.map(lambda v: json.dumps(v, allow_nan=True))


@st.composite
def body_mutations(draw: st.DrawFn, body: Any) -> Mutation:
    """One hypothesis-chosen mutation of `body`."""
    kind = draw(st.sampled_from(["generated", "deep", "oversized", *FRAGMENTS, "whole-body"]))
    if kind == "whole-body":
        return Mutation(kind, "", draw(st.sampled_from(WHOLE)))
    path = draw(st.sampled_from(leaf_paths(body)))
    if kind == "generated":
        fragment = draw(_json_values())
    elif kind == "deep":
        depth = draw(st.integers(500, 6_000))
        fragment = draw(st.sampled_from([_deep(depth, "[", "]"), _deep(depth, '{"a":', "}")]))
    elif kind == "oversized":
        fragment = '"' + "x" * draw(st.integers(60_000, 2_200_000)) + '"'
    else:
        fragment = draw(st.sampled_from(FRAGMENTS[kind]))
    return Mutation(
        kind, f"{_where(path)} = {fragment[:40]!r}", replace(body, path, fragment.encode())
    )


# Hostile path parameter values; `quote` encodes them unless marked raw (sent as written).
PATH_VALUES: tuple[str, ...] = (
    "\x00",
    "a\x00b",
    "%00",
    "",
    " ",
    "..",
    "../..",
    "a/b",
    "%2F",
    "?x=1",
    "#frag",
    "\\",
    "%",
    "ü",
    "\u202e",
    "\U0001f600",
    "\ud800",
    "\x7f\x1b",
    "\n",
    "@fuzzowner:localhost",
    "!nope:localhost",
    "#nope:localhost",
    "$nope",
    "+nope:localhost",
    "@",
    "!",
    ":",
    "@a:b:c",
    "!" + "x" * 300 + ":localhost",
    "x" * 5_000,
    "-1",
    "99999999999999999999999",
    "1e400",
)
RAW_PATH_VALUES: tuple[str, ...] = (
    "%00",
    "..",
    "../..",
    "%2F",
    "%ff%fe",
    "%ED%A0%80",
    "%2e%2e",
    "x" * 10_000,
)


def encode_path_value(value: str) -> str:
    """Percent-encode one segment (lone surrogates as their would-be UTF-8 bytes)."""
    return quote(value, safe="", errors="surrogatepass")


# Query parameters worth attacking per endpoint (others get `access_token`, `limit`).
QUERY_NAMES: dict[str, tuple[str, ...]] = {
    "sync": ("filter", "since", "timeout", "full_state", "set_presence"),
    "messages": ("filter", "from", "to", "dir", "limit"),
    "context": ("filter", "limit"),
    "get_members": ("at", "membership", "not_membership"),
    "public_rooms": ("limit", "since", "server"),
    "keys_changes": ("from", "to"),
    "thumbnail": ("width", "height", "method", "animated", "timeout_ms"),
    "thumbnail_legacy": ("width", "height", "method", "allow_remote"),
    "download": ("timeout_ms", "allow_redirect"),
    "preview_url": ("url", "ts"),
    "room_keys_get": ("version",),
    "room_keys_session_put": ("version",),
    "register_available": ("username",),
    "registration_token_validity": ("token",),
    "register": ("kind",),
    "upload": ("filename",),
    "search": ("next_batch",),
    "admin_rooms_by_expiry": ("limit", "from"),
}
DEFAULT_QUERY_NAMES = ("access_token", "limit")
_DEEP_FILTER = _deep(1_000, '{"room":', "}", "{}")
_PLAIN_QUERY_VALUES = (
    "",
    "-1",
    "0",
    "99999999999999999999999999",
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "1.5",
    "NaN",
    "abc",
    " 1",
    "0x10",
    "\x00",
    "\ud800",
    "x" * 5_000,
    _deep(1_000, "[", "]", ""),
    _DEEP_FILTER,
    '{"room":{"timeline":{"limit":1e400}}}',
    '{"room":{"timeline":{"limit":18446744073709551616}}}',
    '{"room":{"rooms":["\\ud800"]}}',
    '{"room":{"timeline":{"types":["\\u0000"]}}}',
    "s99999999999999999999_1",
    "t1_2_3_4_5_6_7",
    "!nope:localhost",
    "@nope:localhost",
    "$nope",
    "https://127.0.0.1:1/\x00",
    "\u202e",
)
QUERY_VALUES: tuple[str, ...] = (
    *(encode_path_value(v) for v in _PLAIN_QUERY_VALUES),
    "%ff%fe",
    "%ED%A0%80",
    "a&b=c",
    "%",
)


def query_names(name: str) -> tuple[str, ...]:
    """The query parameters to attack on endpoint `name`."""
    return QUERY_NAMES.get(name, DEFAULT_QUERY_NAMES)


@st.composite
def path_mutations(draw: st.DrawFn, params: tuple[str, ...]) -> tuple[str, str, bool]:
    """(parameter, value, raw?) with a hostile value for one parameter."""
    param = draw(st.sampled_from(params))
    if draw(st.booleans()):
        return param, draw(st.sampled_from(RAW_PATH_VALUES)), True
    chosen = draw(st.sampled_from(PATH_VALUES) | st.text(ANY_CHAR, max_size=30))
    return param, chosen, False


@st.composite
def query_mutations(draw: st.DrawFn, names: tuple[str, ...]) -> str:
    """A query string with hostile values for one or more of `names`."""
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    values = st.sampled_from(QUERY_VALUES) | st.text(ANY_CHAR, max_size=30).map(encode_path_value)
    return "&".join(f"{name}={draw(values)}" for name in chosen)

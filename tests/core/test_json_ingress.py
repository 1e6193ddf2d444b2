"""The strict JSON ingress: size, depth, Unicode and number rules, and canonical encoding bounds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.canonical_json import ENCODE_MAX_DEPTH, encode_canonical
from core.errors import M_BAD_JSON, M_INVALID_PARAM, M_NOT_JSON, M_TOO_LARGE, MatrixError
from core.json_ingress import (
    CANONICAL_INT_MAX,
    MAX_DEPTH,
    check_json,
    json_problem,
    parse_json,
    parse_json_object,
    parse_query_json,
)

LIMIT = 1 << 20


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _errcode(data: bytes | str, **kwargs: object) -> str:
    with pytest.raises(MatrixError) as info:
        parse_json(data, max_bytes=LIMIT, **kwargs)  # type: ignore[arg-type]
    return info.value.errcode


def test_parses_ordinary_matrix_json() -> None:
    body = b'{"msgtype":"m.text","body":"h\\u00e9llo \\u0000","n":-5,"ok":true,"x":null}'
    assert parse_json_object(body, max_bytes=LIMIT) == {
        "msgtype": "m.text",
        "body": "h\u00e9llo \x00",
        "n": -5,
        "ok": True,
        "x": None,
    }


def test_depth_limit_is_exact() -> None:
    assert parse_json(_nested(MAX_DEPTH), max_bytes=LIMIT) is not None
    with pytest.raises(MatrixError) as info:
        parse_json(_nested(MAX_DEPTH + 1), max_bytes=LIMIT)
    assert info.value.errcode == M_BAD_JSON
    assert "nested too deeply" in info.value.message


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_very_deep_documents_are_bad_json_not_a_crash(depth: int) -> None:
    assert _errcode(_nested(depth)) == M_BAD_JSON
    assert _errcode(b'{"a":' * depth + b"1" + b"}" * depth) == M_BAD_JSON


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(MatrixError) as info:
        parse_json(b"[" * 200, max_bytes=100)
    assert info.value.errcode == M_TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":"\\ud800x"}',  # lone high surrogate escape
        b'{"a":"\\udc00"}',  # lone low surrogate escape
        b'{"a":"\xff"}',  # invalid UTF-8
        b'{"a":"\xed\xa0\x80"}',  # UTF-8 encoded surrogate
        b'\xef\xbb\xbf{"a":1}',  # byte order mark
        b'{"a":"raw\x00nul"}',  # unescaped control character
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":1e400}',
        b"{",
        b"",
    ],
)
def test_not_json(data: bytes) -> None:
    assert _errcode(data) == M_NOT_JSON


def test_lone_surrogate_in_text_input_is_not_json() -> None:
    assert _errcode('{"a":"\ud800"}') == M_NOT_JSON


@pytest.mark.parametrize(
    "number",
    [
        str(CANONICAL_INT_MAX + 1),
        str(-CANONICAL_INT_MAX - 1),
        "18446744073709551616",
        "99999999999999999999999999",
        "1e300",
    ],
)
def test_numbers_outside_the_canonical_range(number: str) -> None:
    with pytest.raises(MatrixError) as info:
        parse_json(f'{{"n":{number}}}', max_bytes=LIMIT)
    assert info.value.errcode == M_BAD_JSON
    assert "out of range" in info.value.message


def test_canonical_range_limits_are_accepted() -> None:
    value = parse_json(f"[{CANONICAL_INT_MAX},{-CANONICAL_INT_MAX}]", max_bytes=LIMIT)
    assert value == [CANONICAL_INT_MAX, -CANONICAL_INT_MAX]


def test_floats_only_where_allowed() -> None:
    assert parse_json(b'{"order":0.5}', max_bytes=LIMIT) == {"order": 0.5}
    with pytest.raises(MatrixError) as info:
        parse_json(b'{"order":0.5}', max_bytes=LIMIT, floats=False)
    assert info.value.errcode == M_BAD_JSON
    assert "floats" in info.value.message


def test_object_required() -> None:
    with pytest.raises(MatrixError) as info:
        parse_json_object(b"[1]", max_bytes=LIMIT)
    assert info.value.errcode == M_BAD_JSON


def test_query_json_names_the_parameter() -> None:
    assert parse_query_json('{"room":{}}', "filter") == {"room": {}}
    for bad in ("[1]", "{", "[" * 1000, '{"limit":1.5}'):
        with pytest.raises(MatrixError) as info:
            parse_query_json(bad, "filter")
        assert info.value.errcode == M_INVALID_PARAM
        assert "filter" in info.value.message


def test_check_json_on_python_values() -> None:
    check_json({"a": ["b", 1, None, True, 0.5]})
    problems = [
        {"a": "\ud800"},
        {"\udfff": 1},
        {"a": 2**64},
        {"a": float("nan")},
        {"a": {1, 2}},
    ]
    for value in problems:
        with pytest.raises(MatrixError):
            check_json(value)
    assert json_problem({"a": 0.5}, floats=False) is not None


def test_check_json_is_iterative() -> None:
    value: object = 1
    for _ in range(50_000):
        value = [value]
    assert json_problem(value) is not None


def test_canonical_encoding_refuses_depth_instead_of_crashing() -> None:
    value: object = 1
    for _ in range(5_000):
        value = {"a": value}
    with pytest.raises(ValueError, match="nested too deeply"):
        encode_canonical(value)
    shallow: object = 1
    for _ in range(ENCODE_MAX_DEPTH):
        shallow = [shallow]
    assert encode_canonical(shallow).startswith(b"[[")


def test_canonical_encoding_refuses_lone_surrogates() -> None:
    with pytest.raises(ValueError):
        encode_canonical({"a": "\ud800"})


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-CANONICAL_INT_MAX, CANONICAL_INT_MAX)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON)
def test_whatever_is_accepted_encodes_canonically(value: object) -> None:
    data = json.dumps({"v": value}).encode()
    parsed = parse_json_object(data, max_bytes=LIMIT, floats=False)
    assert parsed == {"v": value}
    assert json.loads(encode_canonical(parsed)) == parsed

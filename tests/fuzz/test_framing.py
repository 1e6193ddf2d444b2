"""Broken HTTP framing over raw sockets: every answer a Matrix JSON error, never a 5xx.

Bad and conflicting Content-Length, Transfer-Encoding beside Content-Length, bad chunk sizes,
oversized request lines and headers, non-UTF-8 and malformed Authorization, bodies that claim an
encoding they do not have, and request lines no parser should accept.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.session import EXAMPLES, FUZZ_SETTINGS, Fuzz

ENTITY = b'{"a":1}'


def _put(fuzz: Fuzz, headers: bytes, body: bytes = ENTITY, auth: bytes | None = None) -> bytes:
    """A PUT of account data with the given framing headers (no Content-Length added)."""
    user = quote(fuzz.world.values["OWNER"], safe="")
    token = auth if auth is not None else f"Bearer {fuzz.world.tokens['owner']}".encode()
    return (
        f"PUT /_matrix/client/v3/user/{user}/account_data/m.fuzz.framing HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n".encode()
        + b"Authorization: "
        + token
        + b"\r\n"
        + headers
        + b"\r\n"
        + body
    )


def _get(target: bytes, headers: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    return (
        b"GET "
        + target
        + b" "
        + version
        + b"\r\nHost: x\r\nConnection: close\r\n"
        + headers
        + b"\r\n"
    )


def _cl(value: bytes | int) -> bytes:
    return (
        b"Content-Length: "
        + str(value).encode() * isinstance(value, int)
        + (value if isinstance(value, bytes) else b"")
        + b"\r\n"
    )


_TE = b"Transfer-Encoding: chunked\r\n"


def _chunked(size_line: bytes) -> bytes:
    return size_line + b"\r\n" + ENTITY + b"\r\n0\r\n\r\n"


_BOMB = gzip.compress(b"0" * 30_000_000)
_VERSIONS = b"/_matrix/client/versions"
_WHOAMI = b"/_matrix/client/v3/account/whoami"

# Requests whose body never completes are answered when the server's body timeout (shortened
# for the fuzz server) runs out.
CASES: dict[str, Callable[[Fuzz], bytes]] = {
    "content-length negative": lambda f: _put(f, _cl(b"-1")),
    "content-length not a number": lambda f: _put(f, _cl(b"abc")),
    "content-length huge": lambda f: _put(f, _cl(b"9" * 30), b""),
    "content-length plus sign": lambda f: _put(f, _cl(b"+7")),
    "two content-lengths": lambda f: _put(f, _cl(7) + _cl(8)),
    "content-length longer than body": lambda f: _put(f, _cl(50)),
    "content-length shorter than body": lambda f: _put(f, _cl(3)),
    "transfer-encoding and content-length": lambda f: _put(f, _TE + _cl(7), _chunked(b"7")),
    "chunk size not hex": lambda f: _put(f, _TE, _chunked(b"zz")),
    "chunk size huge": lambda f: _put(f, _TE, b"f" * 40 + b"\r\n" + ENTITY),
    "chunk size negative": lambda f: _put(f, _TE, _chunked(b"-7")),
    "chunk without CRLF": lambda f: _put(f, _TE, b"7\r\n" + ENTITY + b"XX0\r\n\r\n"),
    "chunk extension with NUL": lambda f: _put(f, _TE, _chunked(b"7;\x00")),
    "transfer-encoding unknown": lambda f: _put(f, b"Transfer-Encoding: fuzz\r\n" + _cl(7)),
    "transfer-encoding chunked twice": lambda f: _put(
        f, b"Transfer-Encoding: chunked, chunked\r\n", _chunked(b"7")
    ),
    "gzip encoding, plain body": lambda f: _put(f, b"Content-Encoding: gzip\r\n" + _cl(7)),
    "deflate encoding, plain body": lambda f: _put(f, b"Content-Encoding: deflate\r\n" + _cl(7)),
    "brotli encoding, plain body": lambda f: _put(f, b"Content-Encoding: br\r\n" + _cl(7)),
    "unknown content encoding": lambda f: _put(f, b"Content-Encoding: x-fuzz\r\n" + _cl(7)),
    "gzip bomb": lambda f: _put(f, b"Content-Encoding: gzip\r\n" + _cl(len(_BOMB)), _BOMB),
    "utf-16 body": lambda f: _put(
        f, b"Content-Type: application/json; charset=utf-16\r\n" + _cl(16), "{}".encode("utf-16")
    ),
    "authorization non-UTF-8": lambda f: _put(f, _cl(7), auth=b"Bearer \xff\xfe\x80abc"),
    "authorization latin-1": lambda f: _put(f, _cl(7), auth=b"Bearer t\xe9st"),
    "authorization NUL": lambda f: _put(f, _cl(7), auth=b"Bearer a\x00b"),
    "authorization empty bearer": lambda f: _put(f, _cl(7), auth=b"Bearer "),
    "authorization basic": lambda f: _put(f, _cl(7), auth=b"Basic Zm9vOmJhcg=="),
    "authorization two tokens": lambda f: _put(f, _cl(7), auth=b"Bearer a b"),
    "authorization twice": lambda f: _put(f, b"Authorization: Bearer x\r\n" + _cl(7)),
    "authorization oversized": lambda f: _put(f, _cl(7), auth=b"Bearer " + b"a" * 9_000),
    "header oversized": lambda f: _get(_VERSIONS, b"X-Big: " + b"a" * 100_000 + b"\r\n"),
    "too many headers": lambda f: _get(_VERSIONS, b"".join(b"X-%d: v\r\n" % i for i in range(500))),
    "request line oversized": lambda f: _get(b"/_matrix/client/v3/profile/" + b"a" * 20_000),
    "header without colon": lambda f: _get(_VERSIONS, b"X-Bad\r\n"),
    "header name with space": lambda f: _get(_VERSIONS, b"X Bad: v\r\n"),
    "header folded": lambda f: _get(_VERSIONS, b"X-A: a\r\n folded\r\n"),
    "header value NUL": lambda f: _get(_VERSIONS, b"X-A: a\x00b\r\n"),
    "header non-UTF-8": lambda f: _get(_WHOAMI, b"X-A: \xff\xfe\r\n"),
    "HTTP version unknown": lambda f: _get(_VERSIONS, version=b"HTTP/9.9"),
    "HTTP version garbage": lambda f: _get(_VERSIONS, version=b"FUZZ/1.1"),
    "request line garbage": lambda f: b"GARBAGE\r\n\r\n",
    "unknown method": lambda f: b"FUZZ /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n",
    "NUL in path": lambda f: _get(b"/_matrix/client/v3/profile/a\x00b"),
    "non-UTF-8 path": lambda f: _get(b"/_matrix/client/v3/profile/\xff\xfe"),
    "non-UTF-8 query": lambda f: _get(b"/_matrix/client/v3/publicRooms?since=\xff"),
    "absolute-form target": lambda f: _get(b"http://evil.example/_matrix/client/versions"),
    "bare LF line endings": lambda f: b"GET /_matrix/client/versions HTTP/1.1\nHost: x\n\n",
    "expect 100-continue, no body": lambda f: _put(f, b"Expect: 100-continue\r\n" + _cl(7), b""),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_framing(fuzz: Fuzz, case: str) -> None:
    """Each broken request gets one Matrix JSON answer that is not a 5xx."""
    start = len(fuzz.tally.findings)
    mark = fuzz.client.log.mark()
    answer = fuzz.client.raw(CASES[case](fuzz), method="PUT")
    fuzz.client.judge("framing", case, answer, mark)
    fuzz.verify(f"framing: {case}", start, full=False)


_SIZE_TEXT = st.text(st.sampled_from("0123456789abcdefABCDEF-+ ;x\t"), min_size=0, max_size=24)


@given(content_length=_SIZE_TEXT, chunk_size=_SIZE_TEXT, chunked=st.booleans())
@settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 10)
def test_generated_framing(
    fuzz_session: Fuzz, content_length: str, chunk_size: str, chunked: bool
) -> None:
    """Hypothesis-chosen Content-Length values and chunk-size lines."""
    fuzz = fuzz_session
    start = len(fuzz.tally.findings)
    headers = _cl(content_length.encode()) + (_TE if chunked else b"")
    body = _chunked(chunk_size.encode()) if chunked else ENTITY
    if content_length.isdigit() and int(content_length) <= 65_536:
        body = body.ljust(int(content_length))  # a body as long as announced: no wait
    mark = fuzz.client.log.mark()
    answer = fuzz.client.raw(_put(fuzz, headers, body), method="PUT")
    mutation = f"content-length={content_length!r} chunked={chunked} chunk-size={chunk_size!r}"
    fuzz.client.judge("framing", mutation, answer, mark)
    assert len(fuzz.tally.findings) == start, fuzz.tally.findings[start:]

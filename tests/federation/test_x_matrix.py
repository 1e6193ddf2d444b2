"""X-Matrix request authentication: signing, the header grammar and inbound checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import M_UNAUTHORIZED, JsonDict, MatrixError
from core.identifiers import ServerName
from core.signing import generate_signing_key, verify_json_signature
from federation.x_matrix import (
    XMatrixAuth,
    XMatrixParseError,
    authenticate_request,
    authorization_header,
    parse_authorization,
    request_json,
    sign_request,
)
from tests.federation.helpers import KnownKeys

KEY = generate_signing_key("abc")


def test_request_json_has_content_only_with_a_body() -> None:
    assert "content" not in request_json("get", "/_matrix/x", "a", "b")
    obj = request_json("put", "/_matrix/x?y=1", "a", "b", {"k": 1})
    assert obj == {
        "method": "PUT",
        "uri": "/_matrix/x?y=1",
        "origin": "a",
        "destination": "b",
        "content": {"k": 1},
    }


def test_header_round_trip() -> None:
    auth = sign_request(KEY, "GET", "/_matrix/federation/v1/version", "origin.test", "dest.test")
    header = authorization_header(auth)
    assert header.startswith(
        'X-Matrix origin="origin.test",destination="dest.test",key="ed25519:abc",sig="'
    )
    assert parse_authorization(header) == auth


@pytest.mark.parametrize(
    "header",
    [
        'X-Matrix origin=origin.test,key="ed25519:1",sig="c2ln"',
        'x-matrix ORIGIN="origin.test" , Key = "ed25519:1",\tsig="c2ln"',
        'X-Matrix   origin="origin.test",key="ed25519:1",sig="c2ln",extra="ignored",x=y',
        'X-Matrix origin="origin.test",key=ed25519:1,sig="c\\2ln"',
    ],
)
def test_parse_accepts_the_grammar(header: str) -> None:
    auth = parse_authorization(header)
    assert auth == XMatrixAuth(ServerName("origin.test"), None, "ed25519:1", "c2ln")


def test_parse_unquoted_values_with_colons_and_ports() -> None:
    auth = parse_authorization(
        'X-Matrix origin=h.test:8448,destination="[::1]:8448",key=ed25519:a_b,sig=c2ln'
    )
    assert auth.origin == "h.test:8448"
    assert auth.destination == "[::1]:8448"
    assert auth.key_id == "ed25519:a_b"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer abc",
        "X-Matrix",
        "X-Matrixorigin=a",
        'X-Matrix origin="a.test",key="ed25519:1"',  # no sig
        'X-Matrix key="ed25519:1",sig="x"',  # no origin
        'X-Matrix origin="a.test",key="ed25519:1",sig=""',
        'X-Matrix origin="a.test",key="rsa:1",sig="x"',
        'X-Matrix origin="a.test",key="ed25519:1",sig="x",',  # trailing comma
        'X-Matrix origin="a.test" key="ed25519:1",sig="x"',  # no comma
        'X-Matrix origin="a.test",origin="b.test",key="ed25519:1",sig="x"',
        'X-Matrix origin="a.test,key="ed25519:1",sig="x"',  # unterminated quote
        'X-Matrix origin="bad host!",key="ed25519:1",sig="x"',
        'X-Matrix origin="a.test",destination="bad host",key="ed25519:1",sig="x"',
        'X-Matrix origin=a b,key="ed25519:1",sig="x"',
        'X-Matrix origin=[::1]:8448,key="ed25519:1",sig="x"',  # brackets need quotes
        'X-Matrix origin="a.test",key="ed25519:1",sig="x\x01"',
    ],
)
def test_parse_refuses_malformed(header: str) -> None:
    with pytest.raises(XMatrixParseError):
        parse_authorization(header)


async def test_authenticate_accepts_a_signed_request() -> None:
    content = {"pdus": [], "edus": []}
    auth = sign_request(
        KEY, "PUT", "/_matrix/federation/v1/send/1", "origin.test", "dest.test", content
    )
    origin = await authenticate_request(
        authorization_header(auth),
        method="PUT",
        uri="/_matrix/federation/v1/send/1",
        content=content,
        our_server_name="dest.test",
        verifier=KnownKeys({"origin.test": KEY.verify_key}),
        now_ms=0,
    )
    assert origin == "origin.test"


async def test_authenticate_accepts_a_header_without_destination() -> None:
    auth = sign_request(KEY, "GET", "/_matrix/x", "origin.test", "dest.test")
    header = f'X-Matrix origin=origin.test,key="{auth.key_id}",sig="{auth.signature}"'
    origin = await authenticate_request(
        header,
        method="GET",
        uri="/_matrix/x",
        content=None,
        our_server_name="dest.test",
        verifier=KnownKeys({"origin.test": KEY.verify_key}),
        now_ms=0,
    )
    assert origin == "origin.test"


@pytest.mark.parametrize(
    ("method", "uri", "content", "dest"),
    [
        ("POST", "/_matrix/x", None, "dest.test"),  # method changed
        ("GET", "/_matrix/y", None, "dest.test"),  # path changed
        ("GET", "/_matrix/x", {"a": 1}, "dest.test"),  # body added
        ("GET", "/_matrix/x", None, "other.test"),  # another destination
    ],
)
async def test_authenticate_refuses_tampering(
    method: str, uri: str, content: JsonDict | None, dest: str
) -> None:
    auth = sign_request(KEY, "GET", "/_matrix/x", "origin.test", "dest.test")
    with pytest.raises(MatrixError) as info:
        await authenticate_request(
            authorization_header(auth),
            method=method,
            uri=uri,
            content=content,
            our_server_name=dest,
            verifier=KnownKeys({"origin.test": KEY.verify_key}),
            now_ms=0,
        )
    assert info.value.errcode == M_UNAUTHORIZED
    assert info.value.status == 401


@pytest.mark.parametrize("header", [None, "Bearer x", 'X-Matrix origin="origin.test"'])
async def test_authenticate_refuses_missing_or_malformed(header: str | None) -> None:
    with pytest.raises(MatrixError) as info:
        await authenticate_request(
            header,
            method="GET",
            uri="/",
            content=None,
            our_server_name="dest.test",
            verifier=KnownKeys({}),
            now_ms=0,
        )
    assert info.value.status == 401


async def test_authenticate_refuses_another_servers_key() -> None:
    forger = generate_signing_key("abc")
    auth = sign_request(forger, "GET", "/_matrix/x", "origin.test", "dest.test")
    with pytest.raises(MatrixError):
        await authenticate_request(
            authorization_header(auth),
            method="GET",
            uri="/_matrix/x",
            content=None,
            our_server_name="dest.test",
            verifier=KnownKeys({"origin.test": KEY.verify_key}),
            now_ms=0,
        )


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9\-]{0,10}[a-z0-9])?", fullmatch=True)
_SERVER = st.builds(
    lambda labels, port: ".".join(labels) + (f":{port}" if port else ""),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(1, 65535)),
)


@settings(max_examples=100, deadline=None)
@given(
    origin=_SERVER,
    destination=_SERVER,
    version=st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True),
    uri=st.from_regex(r"/_matrix/[a-z0-9/%?=&]{0,40}", fullmatch=True),
)
def test_header_round_trip_property(origin: str, destination: str, version: str, uri: str) -> None:
    key = generate_signing_key(version)
    auth = sign_request(key, "GET", uri, origin, destination)
    assert parse_authorization(authorization_header(auth)) == auth
    signed = {
        **request_json("GET", uri, origin, destination),
        "signatures": {origin: {auth.key_id: auth.signature}},
    }
    verify_json_signature(signed, origin, auth.key_id, key.verify_key)

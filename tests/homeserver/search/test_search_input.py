"""Malformed `/search` requests get a 400 with the spec's errcode, never a 500 (both backends),
and the body and token parsers on their own."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.errors import MatrixError
from homeserver.services.search.criteria import (
    Cursor,
    decode_cursor,
    encode_cursor,
    parse_search_body,
)
from tests.conftest import LiveServer
from tests.homeserver.search.helpers import searcher
from tests.http_client import auth_header, call


def _events(**criteria: Any) -> dict[str, Any]:
    return {"search_categories": {"room_events": {"search_term": "x", **criteria}}}


BAD_BODIES: list[tuple[Any, str]] = [
    ({}, "M_MISSING_PARAM"),
    ({"search_categories": []}, "M_BAD_JSON"),
    ({"search_categories": {"room_events": []}}, "M_BAD_JSON"),
    ({"search_categories": {"room_events": {}}}, "M_MISSING_PARAM"),
    ({"search_categories": {"room_events": {"search_term": 5}}}, "M_BAD_JSON"),
    (_events(keys="content.body"), "M_BAD_JSON"),
    (_events(keys=["content.url"]), "M_INVALID_PARAM"),
    (_events(order_by="oldest"), "M_INVALID_PARAM"),
    (_events(order_by=1), "M_BAD_JSON"),
    (_events(filter=[]), "M_BAD_JSON"),
    (_events(filter={"limit": -1}), "M_BAD_JSON"),
    (_events(filter={"limit": "10"}), "M_BAD_JSON"),
    (_events(filter={"rooms": "!a:b"}), "M_BAD_JSON"),
    (_events(filter={"senders": [1]}), "M_BAD_JSON"),
    (_events(filter={"not_types": [None]}), "M_BAD_JSON"),
    (_events(filter={"rooms": ["!r:x"] * 5001}), "M_INVALID_PARAM"),
    (_events(event_context=True), "M_BAD_JSON"),
    (_events(event_context={"before_limit": -1}), "M_INVALID_PARAM"),
    (_events(event_context={"after_limit": 1.5}), "M_BAD_JSON"),
    (_events(event_context={"include_profile": "yes"}), "M_BAD_JSON"),
    (_events(include_state="true"), "M_BAD_JSON"),
    (_events(groupings={"group_by": {"key": "room_id"}}), "M_BAD_JSON"),
    (_events(groupings={"group_by": [{"key": "type"}]}), "M_INVALID_PARAM"),
    (_events(groupings={"group_by": ["room_id"]}), "M_BAD_JSON"),
    (_events(filter={"rooms": ["\x00"]}), "M_INVALID_PARAM"),
]

BAD_TOKENS = [
    "%%%",
    "e30",  # {}
    encode_cursor(Cursor(True, 0.0, 1)),  # made for the other order
    "W1tbW1tbW1tbW1tbW1tbW1tbW1tb",
    "x" * 3000,
]


async def test_bad_requests_are_refused(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        for body, errcode in BAD_BODIES:
            status, answer = await alice.request("POST", "/search", body)
            assert (status, answer.get("errcode")) == (400, errcode), body
        for token in BAD_TOKENS:
            status, answer = await alice.search("x", token)
            assert (status, answer.get("errcode")) == (400, "M_INVALID_PARAM"), token
        url = alice.url("/search")
        headers = auth_header(alice.token)
        async with http.post(url, data=b"not json", headers=headers) as resp:
            assert (resp.status, (await resp.json())["errcode"]) == (400, "M_NOT_JSON")
        status, answer = await call(http, "POST", url, body=_events())
        assert (status, answer["errcode"]) == (401, "M_MISSING_TOKEN")


def test_a_cursor_round_trips() -> None:
    cursor = Cursor(False, -1.2345678901234567e-06, -42, ("room_id", "!r:example.org"))
    assert decode_cursor(encode_cursor(cursor), recent=False) == cursor
    with pytest.raises(MatrixError):
        decode_cursor(encode_cursor(cursor), recent=True)


def test_defaults_of_a_minimal_body() -> None:
    criteria = parse_search_body(_events())
    assert criteria is not None
    assert criteria.keys == ("content.body", "content.name", "content.topic")
    assert (criteria.recent, criteria.limit, criteria.context, criteria.group_by) == (
        False,
        10,
        None,
        (),
    )
    assert parse_search_body({"search_categories": {"other": {}}}) is None
    capped = parse_search_body(_events(filter={"limit": 10_000}, event_context={}))
    assert capped is not None
    assert capped.limit == 100
    assert capped.context is not None
    assert (capped.context.before_limit, capped.context.after_limit) == (5, 5)

"""Hostile JSON, numbers and NUL at a live server: each is a 400 Matrix error, never a 500, and
what was accepted is still served afterwards (every user's `/sync` keeps working)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest

from core.json_ingress import CANONICAL_INT_MAX, MAX_DEPTH
from tests.conftest import LiveServer
from tests.homeserver.hardening.helpers import ADMIN, Raw, nested, raw_user
from tests.homeserver.media.helpers import make_admin

LONE_SURROGATE = b'"\\ud800x"'
BAD_JSON = ("M_BAD_JSON",)
NOT_JSON = ("M_NOT_JSON",)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _room(user: Raw) -> str:
    room_id: str = (await user.ok("POST", "/createRoom", {"preset": "public_chat"}))["room_id"]
    return room_id


async def test_deep_nesting_is_bad_json_everywhere(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await raw_user(http, server.url, "alice")
    bob = await raw_user(http, server.url, "bob")
    room = quote(await _room(alice))
    deep = nested(1_000)
    await alice.refused("PUT", f"/rooms/{room}/send/m.room.message/t1", deep, 400, *BAD_JSON)
    await alice.refused("PUT", f"/rooms/{room}/state/x.y/k", deep, 400, *BAD_JSON)
    await alice.refused(
        "PUT", f"/user/{quote(alice.user_id)}/account_data/x.y", deep, 400, *BAD_JSON
    )
    await alice.refused(
        "POST", "/createRoom", b'{"creation_content":' + deep + b"}", 400, *BAD_JSON
    )
    to_device = b'{"messages":{"%s":{"*":' % bob.user_id.encode() + nested(960) + b"}}}"
    await alice.refused("PUT", "/sendToDevice/m.test/t1", to_device, 400, *BAD_JSON)
    # Exactly at the limit is fine for content that is not an event.
    await alice.ok("PUT", f"/user/{quote(alice.user_id)}/account_data/x.y", nested(MAX_DEPTH))
    # The victim's sync is unaffected.
    await bob.ok("GET", "/sync")


async def test_deep_filter_query_is_refused(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await raw_user(http, server.url, "alice")
    room = quote(await _room(alice))
    event_id = (await alice.ok("PUT", f"/rooms/{room}/send/m.room.message/t1", {"body": "x"}))[
        "event_id"
    ]
    deep = quote(nested(MAX_DEPTH + 1).decode())
    huge = quote('{"limit":1e400}')
    for path in (
        f"/sync?filter={deep}",
        f"/rooms/{room}/messages?dir=b&filter={deep}",
        f"/rooms/{room}/context/{quote(event_id)}?filter={deep}",
        f"/rooms/{room}/messages?dir=b&filter={huge}",
    ):
        await alice.refused("GET", path, None, 400, "M_INVALID_PARAM")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/profile/{me}/displayname", b'{"displayname":' + LONE_SURROGATE + b"}"),
        (
            "PUT",
            "/presence/{me}/status",
            b'{"presence":"online","status_msg":' + LONE_SURROGATE + b"}",
        ),
        ("PUT", "/rooms/{room}/state/m.room.topic", b'{"topic":' + LONE_SURROGATE + b"}"),
        ("PUT", "/rooms/{room}/send/m.room.message/t9", b'{"body":' + LONE_SURROGATE + b"}"),
        (
            "POST",
            "/room_keys/version",
            b'{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2",'
            b'"auth_data":{"public_key":' + LONE_SURROGATE + b"}}",
        ),
        ("PUT", "/user/{me}/account_data/x.y", b'{"k\\udc00":1}'),
    ],
)
async def test_lone_surrogates_are_not_json(
    server: LiveServer, http: aiohttp.ClientSession, method: str, path: str, body: bytes
) -> None:
    alice = await raw_user(http, server.url, "alice")
    room = quote(await _room(alice))
    await alice.refused(
        method, path.format(me=quote(alice.user_id), room=room), body, 400, *NOT_JSON
    )
    sync = await alice.ok("GET", "/sync")
    assert sync["presence"]["events"] == [] or all(
        "\ud800" not in str(e) for e in sync["presence"]["events"]
    )


@pytest.mark.parametrize(
    "content",
    [
        b'{"body":"x","n":1.5}',
        b'{"body":"x","n":%d}' % (CANONICAL_INT_MAX + 1),
        b'{"body":"x","n":99999999999999999999999999}',
        b'{"body":"x","n":-18446744073709551616}',
    ],
)
async def test_numbers_in_event_content(
    server: LiveServer, http: aiohttp.ClientSession, content: bytes
) -> None:
    alice = await raw_user(http, server.url, "alice")
    room = quote(await _room(alice))
    await alice.refused("PUT", f"/rooms/{room}/send/m.room.message/t1", content, 400, *BAD_JSON)
    await alice.refused("PUT", f"/rooms/{room}/state/x.y/k", content, 400, *BAD_JSON)
    levels = b'{"users_default":%d}' % (CANONICAL_INT_MAX + 1)
    await alice.refused("PUT", f"/rooms/{room}/state/m.room.power_levels", levels, 400, *BAD_JSON)
    await alice.ok(
        "PUT", f"/rooms/{room}/send/m.room.message/t2", {"body": "x", "n": CANONICAL_INT_MAX}
    )
    await alice.ok("GET", "/sync")


async def test_floats_where_events_are_not_made(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await raw_user(http, server.url, "alice")
    path = f"/user/{quote(alice.user_id)}/account_data/x.order"
    await alice.ok("PUT", path, b'{"order":0.5}')
    assert await alice.ok("GET", path) == {"order": 0.5}
    account_data = (await alice.ok("GET", "/sync"))["account_data"]["events"]
    assert {"type": "x.order", "content": {"order": 0.5}} in account_data
    # To-device messages are relayed as canonical JSON, so no floats there.
    body = b'{"messages":{"%s":{"*":{"n":0.5}}}}' % alice.user_id.encode()
    await alice.refused("PUT", "/sendToDevice/m.test/t1", body, 400, *BAD_JSON)


@pytest.mark.parametrize(
    "request_body",
    [
        b'{"initial_state":[{"type":"m.room.topic","state_key":"a\\u0000b","content":{"topic":"t"}}]}',
        b'{"initial_state":[{"type":"x.y","state_key":"","content":{"n":0.5}}]}',
        b'{"initial_state":[{"type":"x.y","state_key":"","content":{"n":9007199254740991}},'
        b'{"type":"x.z","state_key":"\\u0000","content":{}}]}',
        b'{"name":"ok","power_level_content_override":{"ban":1.5}}',
        b'{"creation_content":{"n":2.5}}',
        b'{"room_alias_name":"a\\u0000b"}',
    ],
)
async def test_create_room_refused_leaves_nothing_behind(
    server: LiveServer, http: aiohttp.ClientSession, request_body: bytes
) -> None:
    alice = await raw_user(http, server.url, "alice")
    answer = await alice.refused(
        "POST", "/createRoom", request_body, 400, "M_BAD_JSON", "M_INVALID_PARAM"
    )
    assert "error" in answer
    assert (await alice.ok("GET", "/joined_rooms"))["joined_rooms"] == []


async def test_nul_in_text_and_path_parameters(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await raw_user(http, server.url, "alice")
    room = quote(await _room(alice))
    me = quote(alice.user_id)
    codes = ("M_INVALID_PARAM", "M_BAD_JSON", "M_NOT_FOUND")
    await alice.refused("PUT", f"/profile/{me}/displayname", {"displayname": "a\x00b"}, 400, *codes)
    await alice.refused(
        "PUT", f"/presence/{me}/status", {"presence": "online", "status_msg": "a\x00"}, 400, *codes
    )
    await alice.refused(
        "PUT", f"/rooms/{room}/state/m.room.topic/a%00b", {"topic": "t"}, 400, *codes
    )
    await alice.refused("PUT", f"/rooms/{room}/send/m.x%00y/t1", {"body": "t"}, 400, *codes)
    await alice.refused("PUT", f"/user/{me}/account_data/x%00y", {}, 400, *codes)
    await alice.refused("PUT", "/devices/DEV%00ICE", {"display_name": "x"}, 400, *codes)
    for path in (f"/directory/room/{quote('#a')}%00b:localhost", "/rooms/!a%00b:localhost/state"):
        status, answer = await alice.send("GET", path)
        assert status in (400, 403, 404), (status, answer)
    # NUL inside JSON content is valid JSON and is stored and served as sent.
    sent = await alice.ok("PUT", f"/rooms/{room}/send/m.room.message/t2", {"body": "a\x00b"})
    messages = await alice.ok("GET", f"/rooms/{room}/messages?dir=b&limit=1")
    assert messages["chunk"][0]["event_id"] == sent["event_id"]
    assert messages["chunk"][0]["content"]["body"] == "a\x00b"
    await alice.ok("PUT", f"/user/{me}/account_data/x.y", {"v": "\x00"})
    assert await alice.ok("GET", f"/user/{me}/account_data/x.y") == {"v": "\x00"}
    await alice.ok("GET", "/sync")


async def test_out_of_range_ids_and_counts(server: LiveServer, http: aiohttp.ClientSession) -> None:
    alice = await raw_user(http, server.url, "alice")
    me = quote(alice.user_id)
    for filter_id in ("99999999999999999999999999", "\u00b2", "-1", "9223372036854775808"):
        await alice.refused("GET", f"/sync?filter={quote(filter_id)}", None, 404, "M_NOT_FOUND")
        await alice.refused(
            "GET", f"/user/{me}/filter/{quote(filter_id)}", None, 404, "M_NOT_FOUND"
        )
    await make_admin(server, alice.user_id)
    purge = f"{server.url}{ADMIN}/media/purge"
    await alice.refused(
        "POST", purge, b'{"not_accessed_for_days":18446744073709551616}', 400, "M_BAD_JSON"
    )
    await alice.refused(
        "POST", purge, {"not_accessed_for_days": CANONICAL_INT_MAX}, 400, "M_INVALID_PARAM"
    )
    await alice.refused("POST", purge, {"not_accessed_for_days": 1.5}, 400, "M_INVALID_PARAM")
    await alice.ok("POST", purge, {"not_accessed_for_days": 36500})

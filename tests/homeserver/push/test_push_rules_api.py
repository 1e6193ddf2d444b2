"""The push rules API over raw HTTP on both backends: the defaults, changes, ordering, errors
and the `m.push_rules` account data."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

import aiohttp
import pytest

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT, call
from tests.homeserver.push.helpers import Client, new_client

KINDS = ("override", "content", "room", "sender", "underride")
DEFAULT_OVERRIDES = [
    ".m.rule.master",
    ".m.rule.suppress_notices",
    ".m.rule.invite_for_me",
    ".m.rule.member_event",
    ".m.rule.is_user_mention",
    ".m.rule.contains_display_name",
    ".m.rule.is_room_mention",
    ".m.rule.roomnotif",
    ".m.rule.tombstone",
    ".m.rule.reaction",
    ".m.rule.room.server_acl",
    ".m.rule.suppress_edits",
]
DEFAULT_UNDERRIDES = [
    ".m.rule.call",
    ".m.rule.encrypted_room_one_to_one",
    ".m.rule.room_one_to_one",
    ".m.rule.message",
    ".m.rule.encrypted",
]


@pytest.fixture
async def alice(server: LiveServer, http: aiohttp.ClientSession) -> Client:
    return await new_client(http, server.url, "alice")


def ids(rules: list[dict[str, object]]) -> list[object]:
    return [rule["rule_id"] for rule in rules]


async def test_defaults_have_the_spec_shape(alice: Client) -> None:
    body = await alice.ok("GET", "/pushrules/")
    assert list(body) == ["global"]
    ruleset = body["global"]
    assert sorted(ruleset) == sorted(KINDS)
    assert ids(ruleset["override"]) == DEFAULT_OVERRIDES
    assert ids(ruleset["underride"]) == DEFAULT_UNDERRIDES
    assert ruleset["room"] == []
    assert ruleset["sender"] == []
    assert ruleset["content"] == [
        {
            "rule_id": ".m.rule.contains_user_name",
            "default": True,
            "enabled": True,
            "pattern": "alice",
            "actions": [
                "notify",
                {"set_tweak": "sound", "value": "default"},
                {"set_tweak": "highlight"},
            ],
        }
    ]
    for kind in ("override", "underride"):
        for rule in ruleset[kind]:
            assert {"rule_id", "default", "enabled", "conditions", "actions"} <= set(rule)
    master = ruleset["override"][0]
    assert master == {
        "rule_id": ".m.rule.master",
        "default": True,
        "enabled": False,
        "conditions": [],
        "actions": [],
    }
    invite = ruleset["override"][2]
    assert {"kind": "event_match", "key": "state_key", "pattern": alice.user_id} in invite[
        "conditions"
    ]
    assert await alice.ok("GET", "/pushrules/global/") == ruleset
    assert await alice.ok("GET", "/pushrules") == body
    assert await alice.ok("GET", "/pushrules/global/underride/") == ruleset["underride"]


async def test_one_rule_and_its_attributes(alice: Client) -> None:
    rule = await alice.ok("GET", "/pushrules/global/underride/.m.rule.message")
    assert rule == {
        "rule_id": ".m.rule.message",
        "default": True,
        "enabled": True,
        "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}],
        "actions": ["notify"],
    }
    master = "/pushrules/global/override/.m.rule.master"
    assert await alice.ok("GET", master + "/enabled") == {"enabled": False}
    assert await alice.ok("GET", master + "/actions") == {"actions": []}


async def test_add_replace_and_delete_a_rule(alice: Client) -> None:
    path = "/pushrules/global/content/nocake"
    await alice.ok("PUT", path, {"pattern": "cake*lie", "actions": ["notify"]})
    assert await alice.ok("GET", path) == {
        "rule_id": "nocake",
        "default": False,
        "enabled": True,
        "pattern": "cake*lie",
        "actions": ["notify"],
    }
    content = (await alice.ok("GET", "/pushrules/"))["global"]["content"]
    assert ids(content) == ["nocake", ".m.rule.contains_user_name"]

    await alice.ok("PUT", path, {"pattern": "pie", "actions": ["dont_notify"]})
    assert await alice.ok("GET", path) == {
        "rule_id": "nocake",
        "default": False,
        "enabled": True,
        "pattern": "pie",
        "actions": [],
    }
    await alice.ok("DELETE", path)
    assert await alice.error("GET", path) == (404, "M_NOT_FOUND")
    assert await alice.error("DELETE", path) == (404, "M_NOT_FOUND")


async def test_rules_of_every_kind(alice: Client) -> None:
    room_id = "!dj234r78wl45Gh4D:localhost"
    await alice.ok("PUT", f"/pushrules/global/room/{quote(room_id)}", {"actions": []})
    await alice.ok("PUT", "/pushrules/global/sender/%40spambot%3Alocalhost", {"actions": []})
    beer = {
        "conditions": [
            {"kind": "event_match", "key": "content.body", "pattern": "beer"},
            {"kind": "room_member_count", "is": "<=10"},
        ],
        "actions": ["notify", {"set_tweak": "sound", "value": "beeroclock.wav"}],
    }
    await alice.ok("PUT", "/pushrules/global/override/beer", beer)
    await alice.ok("PUT", "/pushrules/global/underride/quiet", {"actions": []})
    ruleset = (await alice.ok("GET", "/pushrules/"))["global"]
    assert ruleset["room"] == [
        {"rule_id": room_id, "default": False, "enabled": True, "actions": []}
    ]
    assert ids(ruleset["sender"]) == ["@spambot:localhost"]
    assert ids(ruleset["override"])[:3] == [".m.rule.master", "beer", ".m.rule.suppress_notices"]
    assert ruleset["override"][1]["conditions"] == beer["conditions"]
    assert ids(ruleset["underride"])[0] == "quiet"
    assert ruleset["underride"][0]["conditions"] == []


async def test_before_and_after_order_user_rules(alice: Client) -> None:
    async def put(rule_id: str, query: str = "") -> None:
        body = {"conditions": [], "actions": ["notify"]}
        path = f"/pushrules/global/override/{rule_id}"
        await alice.ok("PUT", path, body, **dict(parse_qsl(query)))

    async def order() -> list[object]:
        rules = await alice.ok("GET", "/pushrules/global/override/")
        return [r["rule_id"] for r in rules if not r["default"]]

    await put("a")
    await put("b")
    assert await order() == ["b", "a"]
    await put("c", "after=b")
    assert await order() == ["b", "c", "a"]
    await put("d", "before=a")
    assert await order() == ["b", "c", "d", "a"]
    await put("a", "before=b")
    assert await order() == ["a", "b", "c", "d"]
    await put("b", "after=d")
    assert await order() == ["a", "c", "d", "b"]
    await put("e", "before=c&after=a")
    assert await order() == ["a", "e", "c", "d", "b"]
    await put("c")
    assert await order() == ["a", "e", "c", "d", "b"]
    overrides = await alice.ok("GET", "/pushrules/global/override/")
    assert overrides[0]["rule_id"] == ".m.rule.master"


async def test_enable_disable_and_actions(alice: Client) -> None:
    message = "/pushrules/global/underride/.m.rule.message"
    await alice.ok("PUT", message + "/enabled", {"enabled": False})
    assert await alice.ok("GET", message + "/enabled") == {"enabled": False}
    await alice.ok("PUT", message + "/actions", {"actions": ["notify", {"set_tweak": "highlight"}]})
    rule = await alice.ok("GET", message)
    assert rule["enabled"] is False
    assert rule["actions"] == ["notify", {"set_tweak": "highlight"}]
    assert rule["default"] is True

    master = "/pushrules/global/override/.m.rule.master/enabled"
    await alice.ok("PUT", master, {"enabled": True})
    assert (await alice.ok("GET", "/pushrules/"))["global"]["override"][0]["enabled"] is True

    mine = "/pushrules/global/sender/%40bob%3Alocalhost"
    await alice.ok("PUT", mine, {"actions": ["notify"]})
    await alice.ok("PUT", mine + "/enabled", {"enabled": False})
    await alice.ok("PUT", mine, {"actions": []})
    assert await alice.ok("GET", mine) == {
        "rule_id": "@bob:localhost",
        "default": False,
        "enabled": False,
        "actions": [],
    }


async def test_rules_belong_to_their_user(
    server: LiveServer, http: aiohttp.ClientSession, alice: Client
) -> None:
    bob = await new_client(http, server.url, "bob")
    await alice.ok("PUT", "/pushrules/global/content/mine", {"pattern": "x", "actions": []})
    await alice.ok("PUT", "/pushrules/global/underride/.m.rule.message/enabled", {"enabled": False})
    assert await bob.error("GET", "/pushrules/global/content/mine") == (404, "M_NOT_FOUND")
    assert await bob.ok("GET", "/pushrules/global/underride/.m.rule.message/enabled") == {
        "enabled": True
    }
    content = (await bob.ok("GET", "/pushrules/"))["global"]["content"]
    assert content[0]["pattern"] == "bob"


ERROR_CASES: list[tuple[str, str, object, str, tuple[int, str]]] = [
    ("GET", "/pushrules/global/override/nope", None, "", (404, "M_NOT_FOUND")),
    ("GET", "/pushrules/global/bogus/x", None, "", (400, "M_UNKNOWN")),
    ("GET", "/pushrules/device/override/x", None, "", (400, "M_INVALID_PARAM")),
    ("GET", "/pushrules/device/", None, "", (400, "M_INVALID_PARAM")),
    ("PUT", "/pushrules/global/bogus/x", {"actions": []}, "", (400, "M_UNKNOWN")),
    ("PUT", "/pushrules/global/override/.mine", {"actions": []}, "", (400, "M_UNKNOWN")),
    (
        "PUT",
        "/pushrules/global/override/.m.rule.master",
        {"actions": []},
        "",
        (400, "M_UNKNOWN"),
    ),
    ("PUT", "/pushrules/global/override/a%5Cb", {"actions": []}, "", (400, "M_UNKNOWN")),
    ("PUT", "/pushrules/global/override/a%2Fb", {"actions": []}, "", (400, "M_UNKNOWN")),
    ("PUT", "/pushrules/global/override/x", {"actions": []}, "before=nope", (400, "M_UNKNOWN")),
    (
        "PUT",
        "/pushrules/global/override/x",
        {"actions": []},
        "after=.m.rule.master",
        (400, "M_UNKNOWN"),
    ),
    ("PUT", "/pushrules/global/override/x", {"conditions": []}, "", (400, "M_MISSING_PARAM")),
    (
        "PUT",
        "/pushrules/global/override/x",
        {"actions": ["explode"]},
        "",
        (400, "M_INVALID_PARAM"),
    ),
    (
        "PUT",
        "/pushrules/global/override/x",
        {"actions": "notify"},
        "",
        (400, "M_INVALID_PARAM"),
    ),
    (
        "PUT",
        "/pushrules/global/override/x",
        {"actions": [], "conditions": [1]},
        "",
        (400, "M_INVALID_PARAM"),
    ),
    ("PUT", "/pushrules/global/content/x", {"actions": []}, "", (400, "M_MISSING_PARAM")),
    (
        "PUT",
        "/pushrules/global/content/x",
        {"actions": [], "pattern": 5},
        "",
        (400, "M_INVALID_PARAM"),
    ),
    ("DELETE", "/pushrules/global/override/.m.rule.master", None, "", (400, "M_UNKNOWN")),
    ("DELETE", "/pushrules/global/content/nope", None, "", (404, "M_NOT_FOUND")),
    ("GET", "/pushrules/global/override/nope/enabled", None, "", (404, "M_NOT_FOUND")),
    (
        "PUT",
        "/pushrules/global/override/nope/enabled",
        {"enabled": True},
        "",
        (404, "M_NOT_FOUND"),
    ),
    (
        "PUT",
        "/pushrules/global/override/.m.rule.master/enabled",
        {"enabled": "yes"},
        "",
        (400, "M_INVALID_PARAM"),
    ),
    (
        "PUT",
        "/pushrules/global/override/.m.rule.master/enabled",
        {},
        "",
        (400, "M_MISSING_PARAM"),
    ),
    (
        "PUT",
        "/pushrules/global/override/.m.rule.master/actions",
        {"actions": [7]},
        "",
        (400, "M_INVALID_PARAM"),
    ),
]


async def test_errors(alice: Client) -> None:
    for method, path, body, query, expected in ERROR_CASES:
        assert await alice.error(method, path, body, query) == expected, (method, path, query)


async def test_errors_change_nothing_and_need_a_token(
    server: LiveServer, http: aiohttp.ClientSession, alice: Client
) -> None:
    before = await alice.ok("GET", "/pushrules/")
    await alice.error("PUT", "/pushrules/global/override/x", {"actions": []}, "before=nope")
    await alice.error("PUT", "/pushrules/global/override/.m.rule.master/enabled", {"enabled": 1})
    assert await alice.ok("GET", "/pushrules/") == before
    status, body = await call(http, "GET", f"{server.url}{CLIENT}/pushrules/")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_changes_reach_sync_as_m_push_rules(alice: Client) -> None:
    first = await alice.sync()
    await alice.ok("PUT", "/pushrules/global/room/%21r%3Alocalhost", {"actions": []})
    later = await alice.sync(since=first["next_batch"], timeout_ms=5000)
    events = [e for e in later["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert len(events) == 1
    ruleset = events[0]["content"]["global"]
    assert ids(ruleset["room"]) == ["!r:localhost"]
    assert ids(ruleset["override"]) == DEFAULT_OVERRIDES
    assert ruleset == (await alice.ok("GET", "/pushrules/"))["global"]

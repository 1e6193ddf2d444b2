"""History from before a server joined: a user on that server pages back with `/messages`,
and the server fetches the older events from a server in the room with `/backfill`, checks
them and shows them in order, down to the room's creation; none of it reaches `/sync` as new
or changes the room's state. History that was tampered with on the serving side is not
shown as it was altered: a badly signed event is left out, one whose content no longer
matches its hash is shown redacted."""

from __future__ import annotations

import json
import sqlite3
from urllib.parse import quote

import aiohttp
import asyncpg

from core.errors import JsonDict
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.homeserver.federation.test_joins import invited_and_joined, joined, members
from tests.http_client import ApiClient


async def state_ids(client: ApiClient, room_id: str) -> dict[tuple[str, str], str]:
    """The room's current state as its client's server serves it."""
    state = await client.ok("GET", f"/rooms/{quote(room_id)}/state")
    return {(e["type"], e["state_key"]): e["event_id"] for e in state}


async def page_back(client: ApiClient, room_id: str, limit: int) -> list[JsonDict]:
    """Every event `/messages` gives going backwards from the present, newest first, until
    a page has no `end`."""
    events: list[JsonDict] = []
    token: str | None = None
    for _ in range(100):
        body = await client.ok(
            "GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=limit, **{"from": token}
        )
        events.extend(body["chunk"])
        if "end" not in body:
            return events
        assert body["end"] != token, body
        token = body["end"]
    raise AssertionError("paging back never reached the start of the room")


async def test_history_from_before_the_join_is_fetched_while_paging_back(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12", before_join=60)
    sync = await bob.sync()
    state_before = await state_ids(bob, room_id)

    events = await page_back(bob, room_id, 10)

    bodies = [e["content"]["body"] for e in events if e["type"] == "m.room.message"]
    assert bodies == [f"early {n}" for n in reversed(range(60))]
    assert events[-1]["type"] == "m.room.create"
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    assert ids == [e["event_id"] for e in await page_back(alice, room_id, 25)]

    after = await bob.sync(sync["next_batch"])
    assert "early 0" not in str(joined(after, room_id))
    assert await state_ids(bob, room_id) == state_before
    assert (await members(bob, room_id)) == {alice.user_id: "join", bob.user_id: "join"}


async def test_paging_forward_from_history_runs_into_the_present(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    _alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "11", before_join=5)
    back = await bob.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=4)
    older = await bob.ok(
        "GET", f"/rooms/{quote(room_id)}/messages", dir="b", limit=30, **{"from": back["end"]}
    )
    assert "end" not in older
    last = older["chunk"][-1]
    assert last["type"] == "m.room.create"

    forward = await bob.ok(
        "GET", f"/rooms/{quote(room_id)}/messages", dir="f", limit=100, **{"from": older["start"]}
    )
    ids = [e["event_id"] for e in forward["chunk"]]
    assert ids == [e["event_id"] for e in reversed(back["chunk"])]
    everything = await bob.ok("GET", f"/rooms/{quote(room_id)}/messages", dir="f", limit=100)
    assert everything["chunk"][0]["event_id"] == last["event_id"]
    bodies = [e["content"].get("body") for e in everything["chunk"]]
    assert [b for b in bodies if b] == [f"early {n}" for n in range(5)]


async def _rewrite_event(server: FederatedServer, event_id: str, raw: JsonDict) -> None:
    """Store `raw` as `event_id`'s JSON in the (stopped) server's database."""
    url, text = server.config.database_url, json.dumps(raw)
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute("UPDATE events SET json = ? WHERE event_id = ?", (text, event_id))
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE events SET json = $1 WHERE event_id = $2", text, event_id)
    finally:
        await conn.close()


async def test_tampered_history_is_not_shown_as_altered(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12", before_join=6)
    history = await page_back(alice, room_id, 50)
    early = {e["content"].get("body"): e for e in history if e["type"] == "m.room.message"}
    raws = {}
    for body in ("early 1", "early 2", "early 4"):
        uri = f"/_matrix/federation/v1/event/{quote(early[body]['event_id'])}"
        headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", uri)
        status, answer = await hs1.request(http, "GET", uri, headers=headers)
        assert status == 200, answer
        raws[body] = answer["pdus"][0]
    await hs1.stop()
    forged = {**raws["early 2"], "signatures": raws["early 1"]["signatures"]}
    await _rewrite_event(hs1, early["early 2"]["event_id"], forged)
    altered = {**raws["early 4"], "content": {"msgtype": "m.text", "body": "altered"}}
    await _rewrite_event(hs1, early["early 4"]["event_id"], altered)
    await hs1.restart()

    events = await page_back(bob, room_id, 10)
    ids = [e["event_id"] for e in events]
    assert early["early 2"]["event_id"] not in ids
    shown = [e for e in events if e["type"] == "m.room.message"]
    assert [e["content"].get("body") for e in shown] == [
        "early 5",
        None,
        "early 3",
        "early 1",
        "early 0",
    ]
    assert shown[1]["event_id"] == early["early 4"]["event_id"]
    assert events[-1]["type"] == "m.room.create"


async def test_history_waits_for_an_unreachable_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    _alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12", before_join=3)
    await hs1.stop()
    alone = await page_back(bob, room_id, 10)
    assert [e for e in alone if e["type"] == "m.room.message"] == []
    assert alone[0]["type"] == "m.room.member"

    await hs1.restart()
    events = await page_back(bob, room_id, 10)
    bodies = [e["content"]["body"] for e in events if e["type"] == "m.room.message"]
    assert bodies == ["early 2", "early 1", "early 0"]
    assert events[-1]["type"] == "m.room.create"

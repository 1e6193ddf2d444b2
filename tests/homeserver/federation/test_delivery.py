"""Delivery across a real federated room: messages queued while the other server is down
arrive in order after it restarts, and typing and receipts reach the other side."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from tests.homeserver.federation.servers import FederatedServer
from tests.homeserver.federation.test_joins import (
    invited_and_joined,
    joined,
    sync_until,
    timeline_bodies,
)


async def test_messages_sent_while_a_server_is_down_arrive_in_order(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    await hs2.stop()
    sent = [f"while down {n}" for n in range(8)]
    for text in sent:
        await alice.send(room_id, text)
    await hs2.restart()
    bob.base = hs2.url
    seen: list[str] = []

    def all_arrived(body: JsonDict) -> bool:
        seen.extend(t for t in timeline_bodies(body, room_id) if t.startswith("while down"))
        return len(seen) >= len(sent)

    await sync_until(bob, all_arrived, "the messages sent while hs2 was down")
    assert seen == sent


async def test_typing_and_receipts_cross_in_a_joined_room(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice, bob, room_id = await invited_and_joined(http, hs1, hs2, "12")
    event_id = await alice.send(room_id, "read me")
    await sync_until(bob, lambda b: "read me" in timeline_bodies(b, room_id), "the message")

    await bob.ok("PUT", f"/rooms/{quote(room_id)}/typing/{quote(bob.user_id)}", {"typing": True})
    receipt = f"/rooms/{quote(room_id)}/receipt"
    await bob.ok("POST", f"{receipt}/m.read.private/{quote(event_id)}", {})
    await bob.ok("POST", f"{receipt}/m.read/{quote(event_id)}", {})

    def ephemeral(body: JsonDict, kind: str) -> list[JsonDict]:
        events = joined(body, room_id).get("ephemeral", {}).get("events", [])
        return [e for e in events if e["type"] == kind]

    def bob_typing(body: JsonDict) -> bool:
        return any(bob.user_id in e["content"]["user_ids"] for e in ephemeral(body, "m.typing"))

    await sync_until(alice, bob_typing, "bob typing")

    def bob_read(body: JsonDict) -> bool:
        for e in ephemeral(body, "m.receipt"):
            if bob.user_id in e["content"].get(event_id, {}).get("m.read", {}):
                assert bob.user_id not in e["content"][event_id].get("m.read.private", {})
                return True
        return False

    await sync_until(alice, bob_read, "bob's receipt")

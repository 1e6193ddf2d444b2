"""No event is skipped by `/sync` when many clients write at once: concurrent senders in one
room and across rooms, a reader long-polling throughout, every event seen exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import new_client as register
from tests.http_client import ApiClient

SENDERS = 4
PER_SENDER = 40


async def _send_all(user: ApiClient, room_ids: list[str], tag: str) -> set[str]:
    sent: set[str] = set()

    async def one(i: int) -> None:
        room_id = room_ids[i % len(room_ids)]
        body = {"msgtype": "m.text", "body": f"{tag}-{i}"}
        await user.ok("PUT", f"/rooms/{room_id}/send/m.room.message/{tag}{i}", body)
        sent.add(f"{tag}-{i}")

    # Several requests in flight per sender, so events of one room race each other.
    for start in range(0, PER_SENDER, 8):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 8, PER_SENDER))))
    return sent


async def test_concurrent_writers_nothing_skipped(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        owner = await register(http, server.url, "owner")
        reader = await register(http, server.url, "reader")
        senders = [await register(http, server.url, f"sender{i}") for i in range(SENDERS)]
        room_ids = []
        for _ in range(2):
            room = await owner.ok("POST", "/createRoom", {"preset": "public_chat"})
            room_ids.append(room["room_id"])
        for user in [reader, *senders]:
            for room_id in room_ids:
                await user.ok("POST", f"/join/{room_id}", {})
        token = (await reader.ok("GET", "/sync"))["next_batch"]
        seen: list[str] = []
        done = asyncio.Event()

        async def read() -> None:
            nonlocal token
            sync_filter = '{"room":{"timeline":{"limit":1000}}}'
            while True:
                sync: dict[str, Any] = await reader.ok(
                    "GET", "/sync", since=token, timeout="2000", filter=sync_filter
                )
                token = sync["next_batch"]
                for room in sync["rooms"]["join"].values():
                    assert not room["timeline"]["limited"]
                    for event in room["timeline"]["events"]:
                        if event["type"] == "m.room.message":
                            seen.append(event["content"]["body"])
                if done.is_set() and not sync["rooms"]["join"]:
                    return

        reading = asyncio.create_task(read())
        results = await asyncio.gather(
            *(_send_all(user, room_ids, f"s{i}") for i, user in enumerate(senders))
        )
        done.set()
        await asyncio.wait_for(reading, 60)
    expected = set().union(*results)
    assert len(seen) == len(set(seen)), "an event was delivered twice"
    assert set(seen) == expected

"""`PUT /sendToDevice` and `to_device` in `/sync` over raw HTTP on both backends: delivery until
the client syncs past a message, fan-out to `*`, idempotent transaction IDs, wake-ups, restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.conftest import LiveServer, make_config, start_server
from tests.homeserver.e2ee.helpers import Client, new_client, second_device
from tests.waiting import LONG_POLL_MS, PATIENCE_S, long_polls_parked


def events(sync: dict[str, object]) -> list[dict[str, object]]:
    to_device = sync["to_device"]
    assert isinstance(to_device, dict)
    found = to_device["events"]
    assert isinstance(found, list)
    return found


async def send(sender: Client, txn: str, messages: dict[str, object], kind: str = "m.test") -> None:
    await sender.ok("PUT", f"/sendToDevice/{kind}/{txn}", {"messages": messages})


async def test_delivered_until_synced_past_then_deleted(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    first = await bob.sync()
    assert events(first) == []
    await send(alice, "t1", {bob.user_id: {bob.device_id: {"n": 1}}})

    got = await bob.sync(since=first["next_batch"])
    assert events(got) == [{"type": "m.test", "sender": alice.user_id, "content": {"n": 1}}]
    # Retrying with the same token (the response was lost) delivers it again.
    again = await bob.sync(since=first["next_batch"])
    assert events(again) == events(got)
    # Syncing past it acknowledges it: it is gone, even for the old token.
    after = await bob.sync(since=got["next_batch"])
    assert events(after) == []
    assert events(await bob.sync(since=first["next_batch"])) == []


async def test_initial_sync_delivers_pending_messages(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    await send(alice, "t1", {bob.user_id: {bob.device_id: {"n": 1}}})
    await send(alice, "t2", {bob.user_id: {bob.device_id: {"n": 2}}})
    initial = await bob.sync()
    assert [e["content"] for e in events(initial)] == [{"n": 1}, {"n": 2}]
    assert events(await bob.sync(since=initial["next_batch"])) == []


async def test_star_fans_out_to_every_device(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    bob_phone = await second_device(http, bob, "PHONE")
    await send(alice, "t1", {bob.user_id: {"*": {"hello": "all"}}})
    for device in (bob, bob_phone):
        assert [e["content"] for e in events(await device.sync())] == [{"hello": "all"}]
    # A message to one device reaches only that device.
    since = {d.device_id: (await d.sync())["next_batch"] for d in (bob, bob_phone)}
    await send(alice, "t2", {bob.user_id: {"PHONE": {"only": "phone"}}})
    assert events(await bob.sync(since=since[bob.device_id])) == []
    phone = await bob_phone.sync(since=since["PHONE"])
    assert [e["content"] for e in events(phone)] == [{"only": "phone"}]


async def test_transaction_ids_are_idempotent(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    message = {bob.user_id: {bob.device_id: {"n": 1}}}
    await send(alice, "same", message)
    await send(alice, "same", message)
    await asyncio.gather(*(send(alice, "same", message) for _ in range(3)))
    assert len(events(await bob.sync())) == 1
    # Another device of the sender has its own transaction IDs.
    alice_phone = await second_device(http, alice, "PHONE")
    await send(alice_phone, "same", message)
    assert len(events(await bob.sync())) == 2


async def test_long_poll_wakes_on_a_message(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    since = (await bob.sync())["next_batch"]
    waiting = asyncio.create_task(bob.sync(since=since, timeout_ms=LONG_POLL_MS))
    await long_polls_parked(server)
    assert not waiting.done()
    await send(alice, "t1", {bob.user_id: {bob.device_id: {"wake": True}}})
    # The poll outlasts the patience: only the wake-up can answer it in time.
    woken = await asyncio.wait_for(waiting, PATIENCE_S)
    assert [e["content"] for e in events(woken)] == [{"wake": True}]


async def test_invalid_and_oversized_messages(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    path = "/sendToDevice/m.test/t1"
    await alice.error("PUT", path, {}, 400, "M_INVALID_PARAM")
    await alice.error("PUT", path, {"messages": {"not-a-user": {}}}, 400, "M_INVALID_PARAM")
    await alice.error(
        "PUT", path, {"messages": {bob.user_id: {bob.device_id: "x"}}}, 400, "M_INVALID_PARAM"
    )
    big = {"messages": {bob.user_id: {bob.device_id: {"blob": "x" * 70_000}}}}
    await alice.error("PUT", "/sendToDevice/m.test/t2", big, 413, "M_TOO_LARGE")
    # Remote users are skipped (no federation), unknown local devices dropped.
    remote = {"messages": {"@carol:elsewhere.example": {"D": {}}, bob.user_id: {"NOPE": {}}}}
    await alice.ok("PUT", "/sendToDevice/m.test/t3", remote)
    assert events(await bob.sync()) == []


async def test_messages_are_capped_per_sync(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    for i in range(105):
        await send(alice, f"t{i}", {bob.user_id: {bob.device_id: {"n": i}}})
    first = await bob.sync()
    assert [e["content"]["n"] for e in events(first)] == list(range(100))
    second = await bob.sync(since=first["next_batch"])
    assert [e["content"]["n"] for e in events(second)] == list(range(100, 105))
    assert events(await bob.sync(since=second["next_batch"])) == []


async def test_messages_survive_a_restart(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = make_config(database_url, tmp_path / "data")
    live, runner = await start_server(config)
    try:
        alice = await new_client(http, live.url, "alice")
        bob = await new_client(http, live.url, "bob")
        since = (await bob.sync())["next_batch"]
        await send(alice, "t1", {bob.user_id: {bob.device_id: {"kept": True}}})
    finally:
        await runner.cleanup()

    live, runner = await start_server(config)
    try:
        bob.base = live.url
        delivered = await bob.sync(since=since)
        assert [e["content"] for e in events(delivered)] == [{"kept": True}]
        # Positions come from the database, so the token still orders after a restart.
        assert events(await bob.sync(since=delivered["next_batch"])) == []
    finally:
        await runner.cleanup()


async def test_deleting_a_device_drops_its_inbox(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    await second_device(http, bob, "PHONE")
    await send(alice, "t1", {bob.user_id: {"PHONE": {"n": 1}}})
    status, _ = await bob.uia("DELETE", "/devices/PHONE", {})
    assert status == 200
    phone_again = await second_device(http, bob, "PHONE")
    assert events(await phone_again.sync()) == []

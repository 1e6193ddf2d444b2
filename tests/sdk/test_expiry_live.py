"""Expiring messages in the SDK against a live server (on each backend): a bot's self-destructing
message leaves the recipient's timeline and store file on time and the expiry callback hears of
it; a read receipt starts the other timer; in an encrypted room the fields go beside the
ciphertext."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sdk import requests
from sdk.bot import Bot
from sdk.client import AsyncClient
from sdk.expiry import ExpiredEvent
from sdk.state import Room
from sdk.store import Store
from tests.conftest import LiveServer
from tests.sdk.fake_crypto import FakeCrypto
from tests.sdk.helpers import MakeClient, client_factory, sync_until
from tests.waiting import wait_for


@pytest.fixture
async def make(server: LiveServer) -> AsyncIterator[MakeClient]:
    async with client_factory(server.url) as factory:
        yield factory


def _timeline_ids(client: AsyncClient, room_id: str) -> list[str]:
    room = client.state.room(room_id)
    return [e.event_id for e in room.timeline] if room is not None else []


def _store_holds(path: Path, marker: bytes) -> bool:
    files = [path, path.with_name(path.name + "-wal")]
    return any(marker in f.read_bytes() for f in files if f.exists())


async def test_a_self_destructing_message_leaves_the_recipients_store(
    make: MakeClient, tmp_path: Path
) -> None:
    store_path = tmp_path / "bob.db"
    async with await Store.open(store_path) as store:
        alice, bob = await make("alice"), await make("bob", store=store)
        bot = Bot(alice)
        room_id = await alice.create_room(invite=[bob.user_id or ""])
        await bob.join(room_id)
        expired: list[ExpiredEvent] = []

        def on_expired(room: Room, event: ExpiredEvent) -> None:
            expired.append(event)

        bob.add_expiry_callback(on_expired)
        marker = "zq" + secrets.token_hex(8)
        doomed = await bot.send(room_id, f"the word {marker}", self_destruct_ms=2_000)
        kept = await bot.send(room_id, "a message that stays")
        await sync_until(bob, lambda: kept in _timeline_ids(bob, room_id))
        assert doomed in _timeline_ids(bob, room_id)
        assert _store_holds(store_path, marker.encode())

        stop = asyncio.Event()
        syncing = asyncio.create_task(bob.sync_forever(timeout_ms=1000, stop=stop))
        try:
            await wait_for(lambda: doomed in {e.event_id for e in expired}, what="the expiry")
        finally:
            stop.set()
            await syncing
        assert doomed not in _timeline_ids(bob, room_id)
        assert kept in _timeline_ids(bob, room_id)
        assert not _store_holds(store_path, marker.encode())


async def test_a_read_starts_the_timer(make: MakeClient) -> None:
    alice, bob = await make("alice"), await make("bob")
    bot = Bot(alice)
    room_id = await alice.create_room(invite=[bob.user_id or ""])
    await bob.join(room_id)
    secret = await bot.send(room_id, "read me once", self_destruct_after_read_ms=500)
    await sync_until(bob, lambda: secret in _timeline_ids(bob, room_id))
    await sync_until(alice, lambda: secret in _timeline_ids(alice, room_id))
    assert await alice.expire_due() == []  # nobody else has read it
    receipt = requests.build(
        "receipt", params={"roomId": room_id, "receiptType": "m.read", "eventId": secret}, body={}
    )
    await bob.request_json(receipt)
    gone: list[str] = []

    async def dropped() -> bool:
        await alice.sync(timeout_ms=500)
        gone.extend(e.event_id for e in await alice.expire_due())
        return secret not in _timeline_ids(alice, room_id)

    await wait_for(dropped, what="alice dropping her message once bob read it")


async def test_in_an_encrypted_room_the_fields_sit_beside_the_ciphertext(
    make: MakeClient,
) -> None:
    alice, bob = await make("alice"), await make("bob")
    alice.crypto = FakeCrypto(alice)
    room_id = await alice.create_room(
        invite=[bob.user_id or ""],
        initial_state=[{"type": "m.room.encryption", "content": {"algorithm": "org.example.fake"}}],
    )
    await bob.join(room_id)
    await alice.sync()
    sent = await Bot(alice).send(room_id, "hidden words", self_destruct_ms=60_000)
    await sync_until(bob, lambda: sent in _timeline_ids(bob, room_id))
    room = bob.state.room(room_id)
    assert room is not None
    event = next(e for e in room.timeline if e.event_id == sent)
    assert event.type == "m.room.encrypted"
    assert "hidden words" not in str(event.content)
    assert isinstance(event.content["org.matrix.self_destruct_after"], int)
    assert bob.expiry.next_due() == event.content["org.matrix.self_destruct_after"]

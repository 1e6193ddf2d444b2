"""`AsyncClient` against a live Tessera, on SQLite and PostgreSQL.

Registration and login, rooms, two clients chatting through `sync_forever` with callbacks,
pagination, state, profile, media, the 429 retry against a server with strict rate limits, and
the local store resuming a sync position across client restarts.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from core.power_levels import CREATOR_POWER_LEVEL
from homeserver.api.http import SERVICES
from homeserver.config import RateLimit, RateLimits
from sdk import requests
from sdk.client import AsyncClient
from sdk.errors import (
    EncryptionRequiredError,
    ForbiddenError,
    LimitExceededError,
    NotFoundError,
    UnknownTokenError,
    UserInUseError,
)
from sdk.events import RoomEvent, UndecryptableEvent
from sdk.http import RetryPolicy
from sdk.state import Room
from sdk.store import Store
from tests.conftest import GENEROUS, LiveServer, make_config, start_server
from tests.homeserver.fake_clock import FakeClock
from tests.sdk.helpers import PASSWORD, client_factory, sync_until
from tests.waiting import PATIENCE_S, wait_for


async def test_register_login_whoami_logout(server: LiveServer) -> None:
    async with client_factory(server.url) as make:
        alice = await make("alice")
        assert alice.user_id == "@alice:localhost"
        assert alice.device_id
        me = await alice.whoami()
        assert (me.user_id, me.device_id) == ("@alice:localhost", alice.device_id)

        with pytest.raises(UserInUseError):
            await make("alice")

        again = AsyncClient(server.url)
        try:
            login = await again.login("alice", PASSWORD, device_name="second")
            assert login.user_id == "@alice:localhost"
            assert login.device_id != alice.device_id
            assert "access_token" not in repr(login)
            assert (await again.whoami()).device_id == login.device_id
            await again.logout()
            assert not again.logged_in
        finally:
            await again.close()

        stale = AsyncClient(server.url)
        try:
            await stale.restore_login("@alice:localhost", login.device_id, login.access_token)
            with pytest.raises(UnknownTokenError):
                await stale.whoami()
            with pytest.raises(ForbiddenError):
                await stale.login("alice", "wrong password")
        finally:
            await stale.close()


async def test_rooms_state_profile_and_media(server: LiveServer) -> None:
    async with client_factory(server.url) as make:
        alice = await make("alice")
        room_id = await alice.create_room(name="Plans", topic="what next")
        assert room_id.startswith("!")
        assert room_id in await alice.joined_rooms()
        assert (await alice.get_state_event(room_id, "m.room.name"))["name"] == "Plans"

        await alice.put_state(room_id, "m.room.topic", {"topic": "new topic"})
        await alice.put_state(room_id, "org.example.keyed", {"v": 1}, state_key="a/b #c")
        keyed = await alice.get_state_event(room_id, "org.example.keyed", "a/b #c")
        assert keyed == {"v": 1}
        with pytest.raises(NotFoundError):
            await alice.get_state_event(room_id, "org.example.absent")
        types = {e["type"] for e in await alice.get_state(room_id)}
        assert {"m.room.create", "m.room.topic", "org.example.keyed"} <= types

        await alice.set_displayname("Alice A.")
        assert await alice.get_displayname() == "Alice A."

        data = bytes(range(256)) * 40
        uri = await alice.upload(data, "application/octet-stream", "blob.bin")
        assert uri.startswith("mxc://localhost/")
        got = await alice.download(uri)
        assert got.body == data
        assert got.filename == "blob.bin"
        with pytest.raises(NotFoundError):
            await alice.download("mxc://localhost/doesnotexist")

        await alice.sync()
        room = alice.state.rooms[room_id]
        assert room.topic == "new topic"
        assert room.members["@alice:localhost"].membership == "join"
        assert room.state_event("org.example.keyed", "a/b #c") is not None
        # The creator of a room of the default version (12) outranks every power level.
        assert room.power_level("@alice:localhost") == CREATOR_POWER_LEVEL


async def test_two_clients_chat_through_sync_forever(server: LiveServer) -> None:
    async with client_factory(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        seen: dict[str, list[tuple[str, str]]] = {"alice": [], "bob": []}
        invites: list[str] = []

        def recorder(name: str):  # type: ignore[no-untyped-def]
            async def on_message(room: Room, event: RoomEvent) -> None:
                seen[name].append((event.sender, event.content.get("body", "")))

            return on_message

        alice.add_event_callback(recorder("alice"), "m.room.message")
        bob.add_event_callback(recorder("bob"), "m.room.message")
        bob.add_invite_callback(lambda room: invites.append(room.room_id))

        stop = asyncio.Event()
        loops = [
            asyncio.create_task(c.sync_forever(timeout_ms=1000, stop=stop)) for c in (alice, bob)
        ]
        try:
            room_id = await alice.create_room(is_direct=True, invite=[bob.user_id or ""])
            await wait_for(lambda: room_id in invites)
            assert bob.state.rooms[room_id].inviter == "@alice:localhost"
            await bob.join(room_id)
            await wait_for(
                lambda: (
                    bob.state.rooms[room_id].membership == "join"
                    and "@bob:localhost" in alice.state.rooms[room_id].joined_member_ids
                )
            )
            await alice.send_text(room_id, "hello bob")
            await wait_for(lambda: ("@alice:localhost", "hello bob") in seen["bob"])
            await bob.send_text(room_id, "hi alice")
            await wait_for(lambda: ("@bob:localhost", "hi alice") in seen["alice"])
            # Each side also sees its own message, and the state keeps the timeline tail.
            assert ("@alice:localhost", "hello bob") in seen["alice"]
            tail = [e.content.get("body") for e in alice.state.rooms[room_id].timeline]
            assert tail[-2:] == ["hello bob", "hi alice"]
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*loops), PATIENCE_S)
        assert all(loop.done() and loop.exception() is None for loop in loops)


async def test_stop_interrupts_a_long_poll(server: LiveServer) -> None:
    async with client_factory(server.url) as make:
        alice = await make("alice")
        await alice.sync()
        stop = asyncio.Event()
        notifier = server.app[SERVICES].notifier
        loop = asyncio.create_task(alice.sync_forever(timeout_ms=60_000, stop=stop))
        await wait_for(lambda: notifier.waiter_count() > 0, what="the long poll")
        stop.set()
        await asyncio.wait_for(loop, PATIENCE_S)
        # The client is done while the server still holds its poll: it did not wait it out.
        assert notifier.waiter_count() > 0
        await alice.create_room()  # wakes the abandoned poll, so the server stops at once


async def test_pagination(server: LiveServer) -> None:
    async with client_factory(server.url) as make:
        alice = await make("alice")
        room_id = await alice.create_room()
        for i in range(25):
            await alice.send_text(room_id, f"message {i}")
        bodies: list[str] = []
        token: str | None = None
        for _ in range(20):
            page = await alice.room_messages(room_id, token, limit=10)
            bodies += [e.content["body"] for e in page.chunk if e.type == "m.room.message"]
            if page.end is None or not page.chunk:
                break
            token = page.end
        assert bodies == [f"message {i}" for i in reversed(range(25))]

        forward = await alice.room_messages(room_id, direction="f", limit=100)
        texts = [e.content["body"] for e in forward.chunk if e.type == "m.room.message"]
        assert texts == [f"message {i}" for i in range(25)]
        assert forward.chunk[0].type == "m.room.create"


async def test_encrypted_room_refuses_plaintext_without_crypto(server: LiveServer) -> None:
    async with client_factory(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await alice.create_room(encrypted=True, invite=[bob.user_id or ""])
        # Before any sync: the client asks the server whether the room is encrypted.
        with pytest.raises(EncryptionRequiredError):
            await alice.send_text(room_id, "secret")
        await alice.sync()
        assert alice.state.rooms[room_id].encrypted
        # A ciphertext sent by someone else reaches callbacks as an UndecryptableEvent.
        await bob.join(room_id)
        undecryptable: list[UndecryptableEvent] = []
        bob.add_event_callback(lambda _r, e: undecryptable.append(e), UndecryptableEvent)  # type: ignore[arg-type, func-returns-value]
        fake = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA", "session_id": "x"}
        txn = alice.new_txn_id()
        await alice.request_json(requests.send_message(room_id, "m.room.encrypted", txn, fake))
        await sync_until(bob, lambda: bool(undecryptable))
        assert undecryptable[0].type == "m.room.encrypted"
        assert "no crypto" in str(undecryptable[0].error)


def _message_limits() -> RateLimits:
    return RateLimits(
        login=GENEROUS,
        login_failures=GENEROUS,
        registration=GENEROUS,
        message=RateLimit(per_second=5.0, burst=2),
        join=GENEROUS,
    )


async def test_429_is_retried_after_retry_after_ms(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", rate_limits=_message_limits())
    live, runner = await start_server(config)
    try:
        async with client_factory(live.url) as make:
            alice = await make("alice")
            room_id = await alice.create_room()
            started = time.monotonic()
            ids = [await alice.send_text(room_id, f"burst {i}") for i in range(6)]
            assert len(set(ids)) == 6
            # 2 sends fit the burst; 4 more refill at 5/s: the client waited ~0.8 s, not failed.
            assert time.monotonic() - started >= 0.5
    finally:
        await runner.cleanup()


async def test_a_client_that_does_not_retry_sees_the_429(database_url: str, tmp_path: Path) -> None:
    # On a clock that stands still the message budget never refills, however slow the machine.
    config = make_config(database_url, tmp_path / "data", rate_limits=_message_limits())
    live, runner = await start_server(config, FakeClock())
    try:
        async with client_factory(live.url) as make:
            alice = await make("alice")
            room_id = await alice.create_room()
            impatient = AsyncClient(live.url, retry=RetryPolicy(max_attempts=1))
            try:
                await impatient.restore_login(
                    alice.user_id or "", alice.device_id or "", alice._http.access_token or ""
                )

                async def flood() -> None:
                    for i in range(3):
                        await impatient.send_text(room_id, f"flood {i}")

                with pytest.raises(LimitExceededError) as caught:
                    await flood()
                assert caught.value.retry_after_ms is not None
            finally:
                await impatient.close()
    finally:
        await runner.cleanup()


async def test_store_resumes_next_batch_across_restarts(server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    async with client_factory(server.url) as make:
        bob = await make("bob")
        store = await Store.open(path)
        alice = await make("alice", store=store)
        room_id = await alice.create_room(name="Persistent", encrypted=False)
        await alice.invite(room_id, bob.user_id or "")
        await bob.join(room_id)
        await alice.send_text(room_id, "before restart")
        await alice.sync()
        token = alice.next_batch
        device = alice.device_id
        assert token is not None
        await alice.close()
        await store.close()

        await bob.send_text(room_id, "while you were away")

        store = await Store.open(path)
        try:
            assert await store.next_batch() == token
            revived = AsyncClient(server.url, store=store)
            try:
                await revived.login("alice", PASSWORD)
                assert revived.device_id == device  # the store's device is reused
                assert revived.next_batch == token
                room = revived.state.rooms[room_id]
                assert room.name == "Persistent"
                assert "@bob:localhost" in room.joined_member_ids
                received: list[str] = []
                revived.add_event_callback(
                    lambda _r, e: received.append(e.content.get("body", "")),  # type: ignore[arg-type, func-returns-value]
                    "m.room.message",
                )
                await revived.sync()
                # Only what happened after the stored token is delivered.
                assert received == ["while you were away"]
            finally:
                await revived.close()
        finally:
            await store.close()

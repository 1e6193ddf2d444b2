"""Encrypted messaging across two live servers: to-device messages to users of the other
server (`m.direct_to_device`), Olm-encrypted room keys and Megolm-encrypted messages between the
project's SDK on one server and the SDK or matrix-nio (with its own crypto) on the other.

Each client asks only its own server; every key query, key claim and to-device message for
the other side's user crosses the federation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import aiohttp
import nio

from core.errors import JsonDict
from tests.homeserver.e2ee.helpers import new_client, second_device
from tests.homeserver.federation.servers import FederatedServer
from tests.homeserver.federation.test_joins import sync_until
from tests.http_client import CLIENT
from tests.sdk.crypto.helpers import PASSWORD, Peer, peers
from tests.sdk.crypto.helpers import sync_until as sync_peers_until
from tests.waiting import wait_for

_NIO = nio.AsyncClientConfig(
    encryption_enabled=True,
    store_sync_tokens=False,
    max_limit_exceeded=0,
    max_timeouts=0,
    request_timeout=120,
)


def _to_device(body: JsonDict) -> list[JsonDict]:
    events: list[JsonDict] = body.get("to_device", {}).get("events", [])
    return events


async def test_to_device_messages_reach_users_of_the_other_server(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    bob = await new_client(http, hs2.url, "bob")
    phone = await second_device(http, bob, "PHONE")
    for device in (bob, phone):
        await device.sync()
    messages = {
        "messages": {
            bob.user_id: {bob.device_id: {"n": 1}},
            "@carol:hs2.test": {"*": {"n": 2}},  # nobody by that name: dropped there
        }
    }
    await alice.ok("PUT", "/sendToDevice/org.example.ping/t1", messages)
    await alice.ok(
        "PUT", "/sendToDevice/org.example.ping/t2", {"messages": {bob.user_id: {"*": {"n": 3}}}}
    )

    def pings(body: JsonDict) -> list[JsonDict]:
        return [e for e in _to_device(body) if e["type"] == "org.example.ping"]

    def got(wanted: set[int]) -> Callable[[JsonDict], bool]:
        seen: set[int] = set()

        def check(body: JsonDict) -> bool:
            for event in pings(body):
                assert event["sender"] == alice.user_id
                seen.add(event["content"]["n"])
            return seen >= wanted

        return check

    await sync_until(bob, got({1, 3}), "alice's messages to bob's first device")
    await sync_until(phone, got({3}), "alice's message to all of bob's devices")


async def test_encrypted_room_between_sdk_clients_on_two_servers(
    pair: list[FederatedServer],
) -> None:
    hs1, hs2 = pair
    async with peers(hs1.url) as on_hs1, peers(hs2.url) as on_hs2:
        alice = await on_hs1("alice")
        bob = await on_hs2("bob")
        room_id = await _encrypted_room(alice, bob)
        await alice.client.send_text(room_id, "hello from hs1")
        await sync_peers_until([alice, bob], lambda: "hello from hs1" in bob.texts(room_id))
        await bob.client.send_text(room_id, "hello from hs2")
        await sync_peers_until([alice, bob], lambda: "hello from hs2" in alice.texts(room_id))
        received = next(e for e in bob.events if e.content.get("body") == "hello from hs1")
        assert received.encrypted is not None
        info = received.decryption_info or {}
        assert info["device_id"] == alice.device_id
        assert info["authenticated"] is True


async def _encrypted_room(alice: Peer, bob: Peer) -> str:
    """An encrypted room of alice's that bob, on the other server, has joined."""
    room_id = await alice.client.create_room(invite=[bob.user_id], encrypted=True)

    async def invited() -> bool:
        await bob.client.sync(timeout_ms=0)
        room = bob.client.state.room(room_id)
        return room is not None and room.membership == "invite"

    await wait_for(invited, what="bob's invite")
    await bob.client.join(room_id)
    await _until_joined(alice, room_id, bob.user_id)
    return room_id


async def _until_joined(peer: Peer, room_id: str, user_id: str) -> None:
    async def joined() -> bool:
        await peer.client.sync(timeout_ms=0)
        room = peer.client.state.room(room_id)
        return room is not None and user_id in room.joined_member_ids

    await wait_for(joined, what=f"{user_id} joined as {peer.user_id} sees it")


async def test_megolm_message_from_hs1_is_decrypted_by_nio_on_hs2(
    pair: list[FederatedServer], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hs1, hs2 = pair
    store = tmp_path / "nio"
    store.mkdir()
    bob = _Nio(nio.AsyncClient(hs2.url, store_path=str(store), config=_NIO))
    try:
        registered = await bob.client.register("bob", PASSWORD, device_name="nio on hs2")
        assert isinstance(registered, nio.RegisterResponse), registered
        await bob.round()
        assert not bob.client.should_upload_keys  # its device and one-time keys are on hs2
        async with peers(hs1.url) as on_hs1:
            alice = await on_hs1("alice")
            room_id = await alice.client.create_room(invite=[bob.client.user_id], encrypted=True)

            async def invited() -> bool:
                await bob.round()
                return room_id in bob.client.invited_rooms

            await wait_for(invited, what="the invite on hs2")
            joined = await bob.client.join(room_id)
            assert isinstance(joined, nio.JoinResponse), joined
            await _until_joined(alice, room_id, bob.client.user_id)

            await alice.client.send_text(room_id, "a secret from hs1")

            async def decrypted() -> bool:
                await bob.round()
                return "a secret from hs1" in bob.texts(room_id)

            await wait_for(decrypted, what="the message decrypted by nio on hs2")
            # What hs2 stored and serves is ciphertext only.
            path = f"{CLIENT}/rooms/{quote(room_id)}/messages"
            headers = {"Authorization": f"Bearer {bob.client.access_token}"}
            async with http.get(hs2.url + path, params={"dir": "b"}, headers=headers) as resp:
                assert resp.status == 200
                page = await resp.text()
            assert "m.room.encrypted" in page
            assert "a secret" not in page
    finally:
        await bob.client.close()


class _Nio:
    """A matrix-nio client with its crypto on, and the timeline events it has synced."""

    def __init__(self, client: nio.AsyncClient) -> None:
        self.client = client
        self.seen: list[tuple[str, nio.Event]] = []

    async def round(self) -> None:
        """One sync and the key work nio's own sync loop does after it (upload, query and
        claim keys, send the queued to-device messages)."""
        client = self.client
        response = await client.sync(timeout=0, full_state=client.next_batch is None)
        assert isinstance(response, nio.SyncResponse), response
        for room_id, room in response.rooms.join.items():
            self.seen += [(room_id, event) for event in room.timeline.events]
        if client.should_upload_keys:
            assert isinstance(await client.keys_upload(), nio.KeysUploadResponse)
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    def texts(self, room_id: str) -> list[str]:
        """Bodies of the room's text messages nio decrypted (retrying those whose room key
        came after them)."""
        texts: list[str] = []
        for seen_in, event in self.seen:
            if seen_in != room_id:
                continue
            if isinstance(event, nio.MegolmEvent):
                event.room_id = room_id
                try:
                    event = self.client.decrypt_event(event)
                except nio.EncryptionError:
                    continue
            if isinstance(event, nio.RoomMessageText):
                texts.append(event.body)
        return texts

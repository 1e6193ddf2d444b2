"""End-to-end encryption between SDK clients on a live Tessera (SQLite and PostgreSQL).

Encrypted DM and group chat, a late joiner who cannot read earlier history until it is shared,
a member who leaves and cannot read what follows (rotation), tampered and replayed ciphertext,
and device keys that survive a restart in the passphrase-sealed local store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk import requests
from sdk.client import AsyncClient
from sdk.crypto.e2ee.client import E2EE
from sdk.crypto.errors import MissingRoomKey, ReplayedMessage, WrongPassphrase
from sdk.events import RoomEvent, UndecryptableEvent
from sdk.store import Store
from tests.conftest import LiveServer
from tests.sdk.crypto.helpers import PASSWORD, Peer, peers, sync_all, sync_until


async def _room(owner: Peer, *members: Peer, history: str = "shared") -> str:
    room_id = await owner.client.create_room(
        invite=[m.user_id for m in members],
        encrypted=True,
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": history},
            }
        ],
    )
    await sync_all(*members)
    for member in members:
        await member.client.join(room_id)
    await sync_all(owner, *members)
    return room_id


def _ciphertext_of(peer: Peer, body: str) -> RoomEvent:
    """The original `m.room.encrypted` event of a message `peer` decrypted."""
    event = next(
        e for e in peer.events if e.content.get("body") == body and e.encrypted is not None
    )
    assert event.encrypted is not None
    return event.encrypted


def _undecryptable(peer: Peer, room_id: str) -> list[UndecryptableEvent]:
    return [e for e in peer.events if isinstance(e, UndecryptableEvent) and e.room_id == room_id]


async def test_encrypted_dm(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await _room(alice, bob)
        await alice.client.send_text(room_id, "hello bob")
        await sync_until([alice, bob], lambda: "hello bob" in bob.texts(room_id))
        await bob.client.send_text(room_id, "hello alice")
        await sync_until([alice, bob], lambda: "hello alice" in alice.texts(room_id))
        received = next(e for e in bob.events if e.content.get("body") == "hello bob")
        assert received.encrypted is not None
        assert received.encrypted.type == "m.room.encrypted"
        assert "hello" not in str(received.encrypted.content)
        info = received.decryption_info or {}
        assert info["device_id"] == alice.device_id
        assert info["authenticated"] is True
        # The server only ever stored ciphertext.
        page = await bob.client.room_messages(room_id, limit=20)
        assert all(e.type != "m.room.message" for e in page.chunk)
        assert not any("hello" in str(e.content) for e in page.chunk)


async def test_group_chat_of_three(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob, carol = await make("alice"), await make("bob"), await make("carol")
        room_id = await _room(alice, bob, carol)
        for sender, text in ((alice, "from alice"), (bob, "from bob"), (carol, "from carol")):
            await sender.client.send_text(room_id, text)
        everyone = [alice, bob, carol]
        wanted = {"from alice", "from bob", "from carol"}
        await sync_until(everyone, lambda: all(wanted <= set(p.texts(room_id)) for p in everyone))
        assert not any(_undecryptable(p, room_id) for p in everyone)


async def test_late_joiner_reads_history_only_when_shared(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await _room(alice, bob)
        await alice.client.send_text(room_id, "before carol")
        await sync_until([alice, bob], lambda: "before carol" in bob.texts(room_id))
        carol = await make("carol")
        await alice.client.invite(room_id, carol.user_id)
        await sync_all(carol)
        await carol.client.join(room_id)
        await sync_all(alice, bob, carol)
        await alice.client.send_text(room_id, "after carol")
        await sync_until([alice, bob, carol], lambda: "after carol" in carol.texts(room_id))
        # The earlier message is in Carol's history, but its key was never shared with her.
        page = await carol.client.room_messages(room_id, limit=50)
        old = _ciphertext_of(bob, "before carol")
        assert old.event_id in {e.event_id for e in page.chunk}
        with pytest.raises(MissingRoomKey):
            await carol.e2ee.decrypt(old)
        # Alice shares the room's history (an m.room_key_bundle); now Carol can read it.
        assert await alice.e2ee.share_history(room_id, carol.user_id) >= 1
        await sync_all(carol)
        decrypted = await carol.e2ee.decrypt(old)
        assert decrypted.content["body"] == "before carol"
        info = decrypted.decryption_info or {}
        # Carol held this session from its m.room_key (from index 1): the bundle extended it back
        # to index 0 and the key keeps the provenance of Alice's direct Olm message.
        group = carol.e2ee.machine.inbound.get(room_id, info["session_id"])
        assert group is not None
        assert group.first_known_index == 0
        assert info["authenticated"] is True


async def test_member_who_left_cannot_read_new_messages(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob, carol = await make("alice"), await make("bob"), await make("carol")
        room_id = await _room(alice, bob, carol)
        await alice.client.send_text(room_id, "all three")
        await sync_until([alice, bob, carol], lambda: "all three" in carol.texts(room_id))
        first_session = alice.e2ee.machine.outbound[room_id].session_id
        await carol.client.leave(room_id)
        await sync_all(alice, bob, carol)
        await alice.client.send_text(room_id, "carol is gone")
        await sync_until([alice, bob], lambda: "carol is gone" in bob.texts(room_id))
        assert alice.e2ee.machine.outbound[room_id].session_id != first_session
        assert (carol.user_id, carol.device_id) not in alice.e2ee.machine.outbound[
            room_id
        ].shared_with
        # Even with the ciphertext in hand (say, from a malicious server), Carol has no key.
        secret = _ciphertext_of(bob, "carol is gone")
        with pytest.raises(MissingRoomKey):
            await carol.e2ee.decrypt(secret)


async def test_tampered_and_replayed_ciphertext_is_rejected(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await _room(alice, bob)
        await alice.client.send_text(room_id, "genuine")
        await sync_until([alice, bob], lambda: "genuine" in bob.texts(room_id))
        original = _ciphertext_of(bob, "genuine")
        # Alice's device (or a server) re-sends the same ciphertext as a new event: a replay.
        replay = requests.send_message(
            room_id, "m.room.encrypted", alice.client.new_txn_id(), original.content
        )
        await alice.client.request_json(replay)
        # And a ciphertext with one bit flipped.
        ciphertext = original.content["ciphertext"]
        flipped = ciphertext[:20] + ("A" if ciphertext[20] != "A" else "B") + ciphertext[21:]
        tampered = requests.send_message(
            room_id,
            "m.room.encrypted",
            alice.client.new_txn_id(),
            {**original.content, "ciphertext": flipped},
        )
        await alice.client.request_json(tampered)
        await sync_until([bob], lambda: len(_undecryptable(bob, room_id)) >= 2)
        errors = [e.error for e in _undecryptable(bob, room_id)]
        assert any(isinstance(err, ReplayedMessage) for err in errors)
        assert len(errors) == 2
        assert bob.texts(room_id).count("genuine") == 1


async def test_device_keys_survive_a_restart_in_the_sealed_store(
    server: LiveServer, tmp_path: Path
) -> None:
    async with peers(server.url) as make:
        bob = await make("bob")
        path = tmp_path / "alice.db"
        store = await Store.open(path)
        alice = await make("alice", store=store, passphrase="local secret")
        room_id = await _room(alice, bob)
        ed25519, device_id = alice.e2ee.ed25519, alice.device_id
        await alice.client.send_text(room_id, "before restart")
        await sync_until([alice, bob], lambda: "before restart" in bob.texts(room_id))
        await alice.client.close()
        await store.close()
        raw = path.read_bytes()
        assert ed25519.encode() not in raw
        assert b"before restart" not in raw

        store = await Store.open(path)
        try:
            again = AsyncClient(server.url, store=store)
            try:
                await again.login("alice", PASSWORD)
                assert again.device_id == device_id
                with pytest.raises(WrongPassphrase):
                    await E2EE.install(again, passphrase="wrong")
                e2ee = await E2EE.install(again, passphrase="local secret")
                assert e2ee.ed25519 == ed25519
                await again.sync()
                await again.send_text(room_id, "after restart")
                await sync_until([bob], lambda: "after restart" in bob.texts(room_id))
            finally:
                await again.close()
        finally:
            await store.close()

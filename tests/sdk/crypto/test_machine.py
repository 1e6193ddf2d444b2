"""The sans-I/O Olm machine: Olm channels, Megolm sharing and rotation, replay detection,
key requests, persistence — machines talking through an in-memory key directory."""

from __future__ import annotations

import copy

import pytest

from core.base64 import decode_unpadded, encode_unpadded
from sdk.crypto.errors import (
    CryptoStoreError,
    DecryptionError,
    MissingRoomKey,
    ReplayedMessage,
    WrongPassphrase,
)
from sdk.crypto.machine.olm_machine import OlmMachine
from sdk.crypto.machine.rooms import RoomSettings
from sdk.crypto.store import CryptoStore, MemoryBackend
from tests.sdk.crypto.machines import Clock, Directory

ROOM = "!room:example.org"
ALICE, BOB, CAROL = "@alice:example.org", "@bob:example.org", "@carol:example.org"


async def _pair() -> tuple[Directory, OlmMachine, OlmMachine]:
    directory = Directory()
    alice = await directory.machine(ALICE, "ALICE1")
    bob = await directory.machine(BOB, "BOB1")
    return directory, alice, bob


async def test_first_upload_has_signed_keys_and_fallback() -> None:
    store = await CryptoStore.open(MemoryBackend())
    machine = await OlmMachine.load(store, ALICE, "DEV")
    body = machine.keys_upload_body()
    assert body is not None
    assert body["device_keys"]["keys"] == {
        "curve25519:DEV": machine.account.curve25519,
        "ed25519:DEV": machine.account.ed25519,
    }
    assert len(body["one_time_keys"]) == machine.one_time_key_target
    ((fallback_id, fallback),) = body["fallback_keys"].items()
    assert fallback_id.startswith("signed_curve25519:")
    assert fallback["fallback"] is True
    machine.receive_keys_upload({"one_time_key_counts": {"signed_curve25519": 25}})
    assert not machine.needs_key_upload()
    machine.receive_key_counts({"signed_curve25519": 3}, ["signed_curve25519"])
    assert (
        len((machine.keys_upload_body() or {})["one_time_keys"]) == machine.one_time_key_target - 3
    )
    machine.receive_keys_upload({"one_time_key_counts": {"signed_curve25519": 25}})
    machine.receive_key_counts({"signed_curve25519": 25}, [])  # fallback key was used
    assert "fallback_keys" in (machine.keys_upload_body() or {})


async def test_encrypted_exchange_and_sender_info() -> None:
    directory, alice, bob = await _pair()
    directory.share(alice, ROOM, [ALICE, BOB])
    outcome = directory.deliver(bob)
    assert outcome.failures == 0
    assert len(outcome.room_keys) == 1
    encrypted = alice.encrypt_room_event(
        ROOM, "m.room.message", {"body": "hi", "msgtype": "m.text"}
    )
    assert encrypted["algorithm"] == "m.megolm.v1.aes-sha2"
    assert "msgtype" not in str(encrypted)
    directory.query(bob, [ALICE])
    result = bob.decrypt_room_event(ROOM, ALICE, "$1", 1, encrypted)
    assert result.content == {"body": "hi", "msgtype": "m.text"}
    assert result.event_type == "m.room.message"
    assert result.authenticated
    assert result.sender_device is not None
    assert result.sender_device.device_id == "ALICE1"
    assert not result.verified
    bob.verify_device(ALICE, "ALICE1", alice.account.ed25519)
    assert bob.decrypt_room_event(ROOM, ALICE, "$1", 1, encrypted).verified
    # A session created by Alice cannot vouch for an event claiming to be from someone else.
    with pytest.raises(DecryptionError, match="another user"):
        bob.decrypt_room_event(ROOM, CAROL, "$2", 1, encrypted)
    bob.inbound.groups[("!other:x", result.session_id)] = bob.inbound.groups[
        (ROOM, result.session_id)
    ]
    with pytest.raises(DecryptionError, match="different room"):
        bob.decrypt_room_event("!other:x", ALICE, "$3", 1, encrypted)


async def test_replay_detection_by_message_index() -> None:
    directory, alice, bob = await _pair()
    directory.share(alice, ROOM, [ALICE, BOB])
    directory.deliver(bob)
    first = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "pay 10"})
    assert bob.decrypt_room_event(ROOM, ALICE, "$a", 100, first).message_index == 0
    # Decrypting the same event again (a re-sync, pagination) is fine.
    assert bob.decrypt_room_event(ROOM, ALICE, "$a", 100, first).content == {"body": "pay 10"}
    with pytest.raises(ReplayedMessage):
        bob.decrypt_room_event(ROOM, ALICE, "$b", 100, first)  # same index, new event ID
    with pytest.raises(ReplayedMessage):
        bob.decrypt_room_event(ROOM, ALICE, "$a", 101, first)  # same index, new timestamp
    second = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "pay 20"})
    assert bob.decrypt_room_event(ROOM, ALICE, "$c", 102, second).message_index == 1


async def test_tampered_megolm_ciphertext_is_refused() -> None:
    directory, alice, bob = await _pair()
    directory.share(alice, ROOM, [ALICE, BOB])
    directory.deliver(bob)
    encrypted = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "hello"})
    raw = bytearray(decode_unpadded(encrypted["ciphertext"]))
    raw[12] ^= 0x01
    tampered = {**encrypted, "ciphertext": encode_unpadded(bytes(raw))}
    with pytest.raises(DecryptionError):
        bob.decrypt_room_event(ROOM, ALICE, "$t", 1, tampered)
    with pytest.raises(MissingRoomKey):
        bob.decrypt_room_event(ROOM, ALICE, "$u", 1, {**encrypted, "session_id": "unknown"})


async def test_rotation_by_message_count_time_and_departure() -> None:
    directory = Directory()
    clock = Clock()
    alice = await directory.machine(ALICE, "ALICE1", clock)
    bob = await directory.machine(BOB, "BOB1")
    carol = await directory.machine(CAROL, "CAROL1")
    settings = RoomSettings(rotation_ms=60_000, rotation_msgs=2)
    directory.share(alice, ROOM, [ALICE, BOB, CAROL], settings)
    first = alice.outbound[ROOM].session_id
    alice.encrypt_room_event(ROOM, "m.room.message", {"body": "1"})
    directory.share(alice, ROOM, [ALICE, BOB, CAROL], settings)
    assert alice.outbound[ROOM].session_id == first
    alice.encrypt_room_event(ROOM, "m.room.message", {"body": "2"})
    directory.share(alice, ROOM, [ALICE, BOB, CAROL], settings)
    second = alice.outbound[ROOM].session_id
    assert second != first  # rotation_period_msgs reached
    clock.now += 60_000
    directory.share(alice, ROOM, [ALICE, BOB, CAROL], settings)
    third = alice.outbound[ROOM].session_id
    assert third != second  # rotation_period_ms reached
    # Carol leaves: the next share rotates and Carol does not get the new key.
    directory.share(alice, ROOM, [ALICE, BOB], settings)
    fourth = alice.outbound[ROOM].session_id
    assert fourth != third
    assert (CAROL, "CAROL1") not in alice.outbound[ROOM].shared_with
    directory.deliver(carol)
    directory.deliver(bob)
    secret = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "after carol left"})
    assert (
        bob.decrypt_room_event(ROOM, ALICE, "$x", 1, secret).content["body"] == "after carol left"
    )
    with pytest.raises(MissingRoomKey):
        carol.decrypt_room_event(ROOM, ALICE, "$x", 1, secret)
    # An explicit departure (from a membership event) discards the session too.
    alice.on_member_left(ROOM, BOB)
    assert ROOM not in alice.outbound


async def test_forged_one_time_key_makes_no_session() -> None:
    directory, alice, bob = await _pair()
    directory.query(alice, [BOB])
    ((key_id, key),) = directory.one_time_keys[(BOB, "BOB1")][:1]
    forged = copy.deepcopy(key)
    forged["key"] = encode_unpadded(bytes(32))
    assert alice.receive_keys_claim({"one_time_keys": {BOB: {"BOB1": {key_id: forged}}}}) == 0
    assert not alice.olm.has_session(bob.account.curve25519)
    assert alice.receive_keys_claim({"one_time_keys": {BOB: {"BOB1": {key_id: key}}}}) == 1


async def test_olm_payload_for_another_device_is_refused() -> None:
    directory = Directory()
    alice = await directory.machine(ALICE, "ALICE1")
    bob = await directory.machine(BOB, "BOB1")
    bob2 = await directory.machine(BOB, "BOB2")
    directory.query(alice, [BOB])
    directory.claim(alice, [BOB])
    bob1_device = alice.trust.device(BOB, "BOB1")
    assert bob1_device is not None
    content = alice.olm.encrypt(bob1_device, "m.dummy", {})
    # Re-address the ciphertext to BOB2's key: it cannot decrypt and counts a failure.
    moved = {
        **content,
        "ciphertext": {bob2.account.curve25519: content["ciphertext"][bob.account.curve25519]},
    }
    assert bob2.receive_sync([("m.room.encrypted", ALICE, moved)]).failures == 1
    # The right device decrypts it, but not if the server claims another sender.
    assert bob.receive_sync([("m.room.encrypted", CAROL, content)]).failures == 1


async def test_key_request_and_forward_between_own_verified_devices() -> None:
    directory = Directory()
    alice = await directory.machine(ALICE, "ALICE1")
    bob = await directory.machine(BOB, "BOB1")
    directory.share(alice, ROOM, [ALICE, BOB])
    directory.deliver(bob)
    encrypted = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "old"})
    bob_new = await directory.machine(BOB, "BOB2")
    with pytest.raises(MissingRoomKey) as missing:
        bob_new.decrypt_room_event(ROOM, ALICE, "$old", 1, encrypted)
    request = bob_new.request_room_key(ROOM, missing.value.session_id)
    assert request is not None
    assert bob_new.request_room_key(ROOM, missing.value.session_id) is None
    # An unverified device asking gets nothing.
    directory.query(bob, [BOB])
    directory.send(bob_new, [request])
    directory.deliver(bob)
    assert not bob.pending_olm
    # Once the devices verified each other, the key is forwarded and accepted.
    bob.verify_device(BOB, "BOB2", bob_new.account.ed25519)
    directory.query(bob_new, [BOB])
    bob_new.verify_device(BOB, "BOB1", bob.account.ed25519)
    bob_new.key_requests.clear()
    request = bob_new.request_room_key(ROOM, missing.value.session_id)
    assert request is not None
    directory.send(bob_new, [request])
    directory.deliver(bob)
    directory.claim(bob, [BOB])
    directory.send(bob, bob.flush_olm())
    outcome = directory.deliver(bob_new)
    assert outcome.room_keys == [(ROOM, missing.value.session_id)]
    assert outcome.outgoing[0].messages[BOB]["*"]["action"] == "request_cancellation"
    result = bob_new.decrypt_room_event(ROOM, ALICE, "$old", 1, encrypted)
    assert result.content == {"body": "old"}
    assert result.source == "forwarded"
    assert not result.authenticated


async def test_unrequested_forwarded_key_is_ignored() -> None:
    directory = Directory()
    mallory = await directory.machine("@mallory:example.org", "M1")
    bob = await directory.machine(BOB, "BOB1")
    directory.share(mallory, ROOM, ["@mallory:example.org", BOB])
    directory.deliver(bob)
    group = mallory.inbound.groups[(ROOM, mallory.outbound[ROOM].session_id)]
    bob_device = mallory.trust.device(BOB, "BOB1")
    assert bob_device is not None
    content = mallory.olm.encrypt(
        bob_device, "m.forwarded_room_key", mallory._forward_content(group)
    )
    before = dict(bob.inbound.groups)
    bob.receive_sync([("m.room.encrypted", "@mallory:example.org", content)])
    assert bob.inbound.groups == before


async def test_state_survives_a_restart_sealed_with_a_passphrase() -> None:
    directory, alice, bob = await _pair()
    directory.share(alice, ROOM, [ALICE, BOB])
    directory.deliver(bob)
    encrypted = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "persist me"})
    bob.decrypt_room_event(ROOM, ALICE, "$p", 5, encrypted)
    backend = MemoryBackend()
    store = await CryptoStore.open(backend, passphrase="local secret")
    await bob.save(store)
    assert all(
        b"persist" not in value and bob.account.ed25519.encode() not in value
        for value in backend.entries.values()
    )
    reopened = await CryptoStore.open(backend, passphrase="local secret")
    restored = await OlmMachine.load(reopened, BOB, "BOB1")
    assert restored.account.ed25519 == bob.account.ed25519
    assert restored.decrypt_room_event(ROOM, ALICE, "$p", 5, encrypted).content == {
        "body": "persist me"
    }
    with pytest.raises(ReplayedMessage):  # the replay log was persisted too
        restored.decrypt_room_event(ROOM, ALICE, "$q", 5, encrypted)
    with pytest.raises(WrongPassphrase):
        await CryptoStore.open(backend, passphrase="wrong")
    with pytest.raises(WrongPassphrase):
        await CryptoStore.open(backend)
    with pytest.raises(CryptoStoreError):
        await OlmMachine.load(reopened, BOB, "OTHERDEVICE")


async def test_sealed_entries_cannot_be_swapped() -> None:
    backend = MemoryBackend()
    store = await CryptoStore.open(backend, passphrase="pw")
    await store.save({("olm", "a"): b"one", ("olm", "b"): b"two"})
    a, b = backend.entries[("crypto.olm", "a")], backend.entries[("crypto.olm", "b")]
    backend.entries[("crypto.olm", "a")], backend.entries[("crypto.olm", "b")] = b, a
    with pytest.raises(CryptoStoreError):
        await store.load(["olm"])
    plain = await CryptoStore.open(MemoryBackend())
    assert not plain.encrypted
    assert plain.pickle_key == bytes(32)


async def test_an_imported_key_must_extend_the_held_ratchet() -> None:
    directory, alice, bob = await _pair()
    directory.share(alice, ROOM, [ALICE, BOB])
    directory.deliver(bob)
    session_id = alice.outbound[ROOM].session_id
    genuine = alice._forward_content(alice.inbound.groups[(ROOM, session_id)])
    held = bob.inbound.groups[(ROOM, session_id)]
    # Session export format: version (1), index (4), ratchet (128), public key (32). A key with
    # this session's public key (so its session ID) but another ratchet, claiming index 0:
    raw = bytearray(decode_unpadded(genuine["session_key"]))
    raw[5:133] = bytes(128)
    forged = {**genuine, "session_key": encode_unpadded(bytes(raw))}
    later = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "x"})
    # Let Bob hold the key only from index 1 on, as a late joiner would.
    exported_1 = held.session.export_at(1)
    assert exported_1 is not None
    held.session = held.session_from_key(exported_1.to_base64(), exported=True)
    assert bob.import_room_key_bundle({"room_keys": [forged]}, ROOM, CAROL) == 0
    assert bob.inbound.groups[(ROOM, session_id)].first_known_index == 1
    # The genuine key from index 0 is accepted as an extension of the held one.
    assert bob.import_room_key_bundle({"room_keys": [genuine]}, ROOM, ALICE) == 1
    assert bob.inbound.groups[(ROOM, session_id)].first_known_index == 0
    assert bob.decrypt_room_event(ROOM, ALICE, "$later", 1, later).content == {"body": "x"}


async def test_bundle_lists_unshared_sessions_as_withheld() -> None:
    directory, alice, bob = await _pair()
    directory.share(alice, ROOM, [ALICE, BOB], RoomSettings(shared_history=False))
    assert alice.room_key_bundle(ROOM)["room_keys"] == []
    assert alice.room_key_bundle(ROOM)["withheld"][0]["code"] == "m.history_not_shared"
    alice.discard_group_session(ROOM)
    directory.share(alice, ROOM, [ALICE, BOB], RoomSettings(shared_history=True))
    bundle = alice.room_key_bundle(ROOM)
    assert len(bundle["room_keys"]) == 1
    assert len(bundle["withheld"]) == 1
    del bob

"""Trust between SDK clients on a live Tessera: emoji SAS between users and between a user's own
devices, fingerprint verification, and key forwarding between own verified devices."""

from __future__ import annotations

import asyncio

import pytest

from sdk.crypto.e2ee.verification import Verification
from sdk.crypto.errors import MissingRoomKey, VerificationError
from sdk.crypto.protocol.devices import DeviceTrust
from sdk.crypto.protocol.sas import SasState
from tests.conftest import LiveServer
from tests.sdk.crypto.helpers import Peer, peers, sync_all, sync_until


async def _background(*peers_: Peer) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    stop = asyncio.Event()
    return stop, [
        asyncio.create_task(p.client.sync_forever(timeout_ms=200, stop=stop)) for p in peers_
    ]


async def _verify(initiator: Peer, responder: Peer) -> tuple[Verification, Verification]:
    """Run a full emoji verification, both users confirming matching emoji."""
    stop, tasks = await _background(initiator, responder)
    try:
        theirs = await initiator.e2ee.request_verification(responder.user_id, responder.device_id)
        ours = await responder.e2ee.wait_for_verification_request(timeout_s=60)
        assert ours.other_user == initiator.user_id
        assert ours.other_device == initiator.device_id
        await ours.accept()
        await theirs.wait_for(SasState.KEYS_EXCHANGED, timeout_s=60)
        await ours.wait_for(SasState.KEYS_EXCHANGED, timeout_s=60)
        assert theirs.emojis() == ours.emojis()
        assert len(ours.emojis()) == 7
        await theirs.confirm()
        await ours.confirm()
        await theirs.wait_for(SasState.DONE, timeout_s=60)
        await ours.wait_for(SasState.DONE, timeout_s=60)
        return theirs, ours
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_emoji_sas_between_two_users(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        await alice.e2ee.devices(bob.user_id)
        await bob.e2ee.devices(alice.user_id)
        assert alice.e2ee.device_trust(bob.user_id, bob.device_id) is DeviceTrust.UNVERIFIED
        await _verify(alice, bob)
        assert alice.e2ee.device_trust(bob.user_id, bob.device_id) is DeviceTrust.VERIFIED
        assert bob.e2ee.device_trust(alice.user_id, alice.device_id) is DeviceTrust.VERIFIED


async def test_sas_mismatch_cancels_on_both_sides(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        stop, tasks = await _background(alice, bob)
        try:
            theirs = await alice.e2ee.request_verification(bob.user_id, bob.device_id)
            ours = await bob.e2ee.wait_for_verification_request(timeout_s=60)
            await ours.accept()
            await ours.wait_for(SasState.KEYS_EXCHANGED, timeout_s=60)
            await ours.mismatch()
            with pytest.raises(VerificationError, match="mismatched_sas"):
                await theirs.wait_for(SasState.DONE, timeout_s=60)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert alice.e2ee.device_trust(bob.user_id, bob.device_id) is DeviceTrust.UNVERIFIED


async def test_fingerprint_verification(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        devices = await alice.e2ee.devices(bob.user_id)
        assert [d.ed25519 for d in devices] == [bob.e2ee.ed25519]
        with pytest.raises(VerificationError, match="fingerprint"):
            await alice.e2ee.verify_device(bob.user_id, bob.device_id, "AAAA BBBB")
        await alice.e2ee.verify_device(bob.user_id, bob.device_id, devices[0].fingerprint)
        assert alice.e2ee.device_trust(bob.user_id, bob.device_id) is DeviceTrust.VERIFIED


async def test_new_device_gets_old_keys_from_a_verified_own_device(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await alice.client.create_room(invite=[bob.user_id], encrypted=True)
        await sync_all(bob)
        await bob.client.join(room_id)
        await sync_all(alice, bob)
        await alice.client.send_text(room_id, "sent before bob's new device")
        await sync_until([alice, bob], lambda: "sent before bob's new device" in bob.texts(room_id))
        old = next(
            e for e in bob.events if e.content.get("body") == "sent before bob's new device"
        ).encrypted
        assert old is not None

        bob2 = await make("bob", login=True)
        with pytest.raises(MissingRoomKey):
            await bob2.e2ee.decrypt(old)  # asks Bob's other devices, which do not trust it yet
        await sync_all(bob)
        assert not bob.e2ee.machine.pending_olm

        await _verify(bob2, bob)  # the same user's two devices verify each other
        assert bob.e2ee.device_trust(bob.user_id, bob2.device_id) is DeviceTrust.VERIFIED
        bob2.e2ee.machine.key_requests.clear()
        with pytest.raises(MissingRoomKey):
            await bob2.e2ee.decrypt(old)  # a fresh request, now from a verified device
        await sync_until(
            [bob, bob2],
            lambda: bool(
                bob2.e2ee.machine.inbound.groups.get((room_id, old.content["session_id"]))
            ),
        )
        decrypted = await bob2.e2ee.decrypt(old)
        assert decrypted.content["body"] == "sent before bob's new device"
        assert (decrypted.decryption_info or {})["source"] == "forwarded"

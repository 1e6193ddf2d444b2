"""Key backup and secret storage on a live Tessera: restore on a fresh device, and
cross-signing keys that the server only ever holds encrypted."""

from __future__ import annotations

import json

import pytest

from sdk.crypto.errors import BackupError, InvalidRecoveryKey, MissingRoomKey, SecretStorageError
from sdk.crypto.protocol.backup import BACKUP_ALGORITHM
from sdk.crypto.protocol.cross_signing import SECRET_NAMES
from sdk.crypto.protocol.devices import DeviceTrust
from sdk.crypto.protocol.recovery_key import encode_recovery_key
from tests.conftest import LiveServer
from tests.sdk.crypto.helpers import PASSWORD, peers, sync_all, sync_until


async def test_key_backup_restore_on_a_fresh_device(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await alice.client.create_room(invite=[bob.user_id], encrypted=True)
        await sync_all(bob)
        await bob.client.join(room_id)
        await sync_all(alice, bob)
        recovery_key = await bob.e2ee.enable_backup()
        assert recovery_key.startswith("Es")
        info = await bob.client.room_keys_version()
        assert info["algorithm"] == BACKUP_ALGORITHM
        assert bob.e2ee.machine.account.ed25519
        assert f"ed25519:{bob.device_id}" in info["auth_data"]["signatures"][bob.user_id]

        for text in ("first secret", "second secret"):
            await alice.client.send_text(room_id, text)
        await sync_until([alice, bob], lambda: "second secret" in bob.texts(room_id))
        await sync_all(bob)  # new sessions are uploaded after the sync that brought them
        events = [
            e.encrypted
            for e in bob.events
            if e.content.get("body") in ("first secret", "second secret")
        ]
        backed_up = await bob.client.room_keys_get(info["version"])
        assert backed_up["rooms"][room_id]["sessions"]
        assert "first secret" not in json.dumps(backed_up)

        fresh = await make("bob", login=True)
        for event in events:
            assert event is not None
        with pytest.raises(InvalidRecoveryKey):
            await fresh.e2ee.restore_backup("EsTh is is not a key")
        with pytest.raises(BackupError, match="does not belong"):
            await fresh.e2ee.restore_backup(encode_recovery_key(bytes(32)))
        assert await fresh.e2ee.restore_backup(recovery_key) >= 1
        for event in events:
            assert event is not None
            decrypted = await fresh.e2ee.decrypt(event)
            assert decrypted.content["body"] in ("first secret", "second secret")
            assert (decrypted.decryption_info or {})["source"] == "backup"


async def test_missing_key_is_fetched_from_the_backup(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice, bob = await make("alice"), await make("bob")
        room_id = await alice.client.create_room(invite=[bob.user_id], encrypted=True)
        await sync_all(bob)
        await bob.client.join(room_id)
        await sync_all(alice, bob)
        recovery_key = await bob.e2ee.enable_backup()
        fresh = await make("bob", login=True)
        await fresh.e2ee.restore_backup(recovery_key)  # nothing yet, but the key is now known
        await alice.client.send_text(room_id, "later")
        await sync_until([alice, bob], lambda: "later" in bob.texts(room_id))
        await sync_all(bob)
        event = next(e for e in bob.events if e.content.get("body") == "later").encrypted
        assert event is not None
        fresh.e2ee.machine.inbound.groups.pop((room_id, event.content["session_id"]), None)
        decrypted = await fresh.e2ee.decrypt(event)  # not shared with it, so from the backup
        assert decrypted.content["body"] == "later"


async def test_cross_signing_keys_in_secret_storage(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice = await make("alice")
        await alice.e2ee.bootstrap_cross_signing(password=PASSWORD)
        await alice.e2ee.enable_backup()
        recovery = await alice.e2ee.setup_secret_storage(passphrase="a long passphrase")
        machine = alice.e2ee.machine
        assert machine.cross_signing is not None
        seeds = machine.cross_signing.seeds()
        # The server holds only ciphertext: no seed appears anywhere in the account data.
        for usage, name in SECRET_NAMES.items():
            stored = await alice.client.get_account_data(name)
            assert seeds[usage] not in json.dumps(stored)
            assert set(stored["encrypted"])
            assert all({"iv", "ciphertext", "mac"} <= set(v) for v in stored["encrypted"].values())
        assert machine.backup_key is not None
        backup_secret = await alice.client.get_account_data("m.megolm_backup.v1")
        assert machine.backup_key.to_base64() not in json.dumps(backup_secret)

        # A new device of Alice's: not cross-signed until it restores from secret storage.
        other = await make("alice", login=True)
        await sync_all(alice)
        await alice.e2ee.query_keys([alice.user_id])
        assert alice.e2ee.device_trust(alice.user_id, other.device_id) is DeviceTrust.UNVERIFIED
        with pytest.raises(SecretStorageError):
            await other.e2ee.restore_from_secret_storage(passphrase="wrong passphrase")
        await other.e2ee.restore_from_secret_storage(recovery_key=recovery)
        assert other.e2ee.machine.cross_signing is not None
        assert other.e2ee.machine.cross_signing.seeds() == seeds
        assert other.e2ee.machine.backup_version is not None
        # The new device signed itself with the self-signing key; Alice's first device sees it.
        await alice.e2ee.query_keys([alice.user_id])
        assert alice.e2ee.device_trust(alice.user_id, other.device_id) is DeviceTrust.VERIFIED
        third = await make("alice", login=True)
        await third.e2ee.restore_from_secret_storage(passphrase="a long passphrase")
        assert third.e2ee.machine.cross_signing is not None


async def test_restore_without_backup_or_storage(server: LiveServer) -> None:
    async with peers(server.url) as make:
        alice = await make("alice")
        with pytest.raises(BackupError, match="no key backup"):
            await alice.e2ee.restore_backup(encode_recovery_key(bytes(32)))
        with pytest.raises(SecretStorageError, match="not set up"):
            await alice.e2ee.restore_from_secret_storage(passphrase="x")
        with pytest.raises(SecretStorageError, match="bootstrap"):
            await alice.e2ee.setup_secret_storage()
        with pytest.raises(MissingRoomKey):
            alice.e2ee.export_session_key("!nowhere:localhost", "nosession")

"""Secret material never shows in `repr` (so it cannot reach a log line by accident)."""

from __future__ import annotations

from core.base64 import encode_unpadded
from sdk.crypto.machine.olm_machine import OlmMachine
from sdk.crypto.machine.rooms import RoomSettings
from sdk.crypto.protocol.account import OlmAccount
from sdk.crypto.protocol.attachments import encrypt_attachment
from sdk.crypto.protocol.backup import BackupKey
from sdk.crypto.protocol.cross_signing import CrossSigningSecrets
from sdk.crypto.protocol.secret_storage import SecretStorageKey
from sdk.crypto.store import CryptoStore, MemoryBackend
from tests.sdk.crypto.machines import Directory


async def test_reprs_hide_secrets() -> None:
    account = OlmAccount.create("@a:x", "DEV")
    assert account.ed25519 in repr(account)
    assert account.pickle(bytes(32)) not in repr(account)
    backup = BackupKey.generate()
    assert backup.to_base64() not in repr(backup)
    storage = SecretStorageKey.generate()
    assert encode_unpadded(storage.key) not in repr(storage)
    cross = CrossSigningSecrets.generate("@a:x")
    assert not any(seed in repr(cross) for seed in cross.seeds().values())
    attachment = encrypt_attachment(b"file")
    assert encode_unpadded(attachment.key) not in repr(attachment)
    store = await CryptoStore.open(MemoryBackend(), passphrase="pw")
    assert "pw" not in repr(store)
    assert encode_unpadded(store.pickle_key) not in repr(store)

    directory = Directory()
    alice = await directory.machine("@a:x", "A1")
    directory.share(alice, "!r:x", ["@a:x"], RoomSettings())
    group = alice.outbound["!r:x"]
    inbound = alice.inbound.groups[("!r:x", group.session_id)]
    assert group.session.session_key.to_base64() not in repr(group)
    assert inbound.export() not in repr(inbound)
    assert isinstance(alice, OlmMachine)
    assert "A1" in repr(alice)

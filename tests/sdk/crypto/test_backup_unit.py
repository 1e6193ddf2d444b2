"""Key backup `m.megolm_backup.v1.curve25519-aes-sha2`, checked against the spec's algorithm.

`_spec_decrypt` implements the spec's six steps with `cryptography` alone (X25519, HKDF-SHA-256,
AES-256-CBC, HMAC of the empty string): the SDK's output (vodozemac's PkEncryption) must
decrypt with it, so the wire format is the spec's and not only self-consistent.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.base64 import decode_unpadded, encode_unpadded
from sdk.crypto.errors import BackupError, InvalidRecoveryKey
from sdk.crypto.protocol.backup import BACKUP_ALGORITHM, BackupEncryptor, BackupKey

SESSION = {
    "algorithm": "m.megolm.v1.aes-sha2",
    "forwarding_curve25519_key_chain": [],
    "sender_key": "RF3s+E7RkTQTGF2d8Deol0FkQvgII2aJDf3/Jp5mxVU",
    "sender_claimed_keys": {"ed25519": "aj40p+aw64yPIdsxoog8jhPu9i7l7NcFRecuOQblE3Y"},
    "session_key": "AQAAAAAAAAA",
}


def _spec_decrypt(secret: bytes, data: dict[str, str]) -> bytes:
    shared = X25519PrivateKey.from_private_bytes(secret).exchange(
        X25519PublicKey.from_public_bytes(decode_unpadded(data["ephemeral"]))
    )
    okm = HKDF(algorithm=hashes.SHA256(), length=80, salt=bytes(32), info=b"").derive(shared)
    aes_key, mac_key, iv = okm[:32], okm[32:64], okm[64:]
    mac = hmac.new(mac_key, b"", hashlib.sha256).digest()[:8]
    assert decode_unpadded(data["mac"]) == mac
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(decode_unpadded(data["ciphertext"])) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def test_session_data_is_the_specs_format() -> None:
    key = BackupKey.generate()
    data = key.encryptor().encrypt(SESSION)
    assert set(data) == {"ephemeral", "ciphertext", "mac"}
    assert json.loads(_spec_decrypt(key.secret, data)) == SESSION
    assert key.decrypt(data) == SESSION


def test_public_key_is_the_x25519_public_key() -> None:
    key = BackupKey.generate()
    public = X25519PrivateKey.from_private_bytes(key.secret).public_key().public_bytes_raw()
    assert key.public_key == encode_unpadded(public)
    assert key.auth_data() == {"public_key": key.public_key}


def test_recovery_key_round_trip_and_matching() -> None:
    key = BackupKey.generate()
    again = BackupKey.from_recovery_key(key.to_recovery_key())
    assert again.secret == key.secret
    assert BackupKey.from_base64(key.to_base64()).secret == key.secret
    info = {
        "algorithm": BACKUP_ALGORITHM,
        "auth_data": {"public_key": key.public_key},
        "version": "1",
    }
    assert key.matches(info)
    assert not BackupKey.generate().matches(info)
    assert not key.matches({**info, "algorithm": "m.other"})
    with pytest.raises(InvalidRecoveryKey):
        BackupKey.from_recovery_key("EsT not a key")


def test_wrong_key_is_refused() -> None:
    data = BackupKey.generate().encryptor().encrypt(SESSION)
    with pytest.raises(BackupError):
        BackupKey.generate().decrypt(data)
    with pytest.raises(BackupError):
        BackupKey.generate().decrypt({"ciphertext": "x"})


def test_encryptor_from_a_published_key_and_repr() -> None:
    key = BackupKey.generate()
    data = BackupEncryptor(key.public_key).encrypt(SESSION)
    assert key.decrypt(data) == SESSION
    assert key.to_base64() not in repr(key)
    with pytest.raises(BackupError):
        BackupEncryptor("not a key")

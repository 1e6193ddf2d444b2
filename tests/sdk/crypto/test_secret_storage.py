"""Secret storage, `m.secret_storage.v1.aes-hmac-sha2` (spec Secrets module, "Storage")."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.base64 import decode_unpadded
from sdk.crypto.errors import InvalidRecoveryKey, SecretStorageError
from sdk.crypto.protocol.secret_storage import (
    ALGORITHM,
    SecretStorageKey,
    decrypt_secret,
    encrypt_secret,
    passphrase_key,
)

KEY = bytes(range(32))


def _spec_decrypt(key: bytes, name: str, encrypted: dict[str, str]) -> bytes:
    """The spec's steps, written out independently of the module under test."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=bytes(32), info=name.encode()).derive(key)
    aes_key, mac_key = okm[:32], okm[32:]
    iv, ct = decode_unpadded(encrypted["iv"]), decode_unpadded(encrypted["ciphertext"])
    assert hmac.compare_digest(
        hmac.new(mac_key, ct, hashlib.sha256).digest(), decode_unpadded(encrypted["mac"])
    )
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    return decryptor.update(ct) + decryptor.finalize()


def test_encrypted_secret_follows_the_spec() -> None:
    encrypted = encrypt_secret(KEY, "m.cross_signing.master", "c2VlZA")
    assert set(encrypted) == {"iv", "ciphertext", "mac"}
    assert all("=" not in v for v in encrypted.values())
    iv = decode_unpadded(encrypted["iv"])
    assert len(iv) == 16
    assert iv[8] & 0x80 == 0
    assert _spec_decrypt(KEY, "m.cross_signing.master", encrypted) == b"c2VlZA"
    assert decrypt_secret(KEY, "m.cross_signing.master", encrypted) == "c2VlZA"


def test_wrong_key_or_name_or_tampering_is_refused() -> None:
    encrypted = encrypt_secret(KEY, "name", "secret")
    with pytest.raises(SecretStorageError, match="MAC"):
        decrypt_secret(bytes(32), "name", encrypted)
    with pytest.raises(SecretStorageError, match="MAC"):
        decrypt_secret(KEY, "other.name", encrypted)
    ct = bytearray(decode_unpadded(encrypted["ciphertext"]))
    ct[0] ^= 1
    tampered = {**encrypted, "ciphertext": base64.b64encode(bytes(ct)).decode().rstrip("=")}
    with pytest.raises(SecretStorageError):
        decrypt_secret(KEY, "name", tampered)
    with pytest.raises(SecretStorageError, match="missing"):
        decrypt_secret(KEY, "name", {"iv": encrypted["iv"]})


def test_padded_base64_is_accepted() -> None:
    encrypted = encrypt_secret(KEY, "name", "secret value")
    padded = {k: base64.b64encode(decode_unpadded(v)).decode() for k, v in encrypted.items()}
    assert decrypt_secret(KEY, "name", padded) == "secret value"


def test_key_description_check() -> None:
    key = SecretStorageKey.generate(name="default")
    assert key.description["algorithm"] == ALGORITHM
    assert {"iv", "mac"} <= set(key.description)
    assert "passphrase" not in key.description
    same = SecretStorageKey.from_description(key.key_id, key.description, key.key)
    assert same.key == key.key
    with pytest.raises(SecretStorageError, match="not the key"):
        SecretStorageKey.from_description(key.key_id, key.description, bytes(32))
    # Without a check value any key is accepted, as the spec says.
    bare = {"algorithm": ALGORITHM}
    assert SecretStorageKey.from_description("id", bare, bytes(32)).key == bytes(32)
    with pytest.raises(SecretStorageError, match="algorithm"):
        SecretStorageKey.from_description("id", {"algorithm": "m.other"}, bytes(32))


def test_recovery_key_representation() -> None:
    key = SecretStorageKey.generate()
    text = key.to_recovery_key()
    assert SecretStorageKey.from_recovery_key(key.key_id, key.description, text).key == key.key
    with pytest.raises(InvalidRecoveryKey):
        SecretStorageKey.from_recovery_key(key.key_id, key.description, text[:-3])
    other = SecretStorageKey.generate()
    with pytest.raises(SecretStorageError):
        SecretStorageKey.from_recovery_key(key.key_id, key.description, other.to_recovery_key())


def test_passphrase_derivation_is_pbkdf2_sha512() -> None:
    expected = hashlib.pbkdf2_hmac("sha512", b"pass", b"salt", 1000, 32)
    assert passphrase_key("pass", "salt", 1000) == expected
    key = SecretStorageKey.generate(passphrase="correct horse", iterations=1000)
    params = key.description["passphrase"]
    assert params["algorithm"] == "m.pbkdf2"
    assert params["iterations"] == 1000
    assert params["bits"] == 256
    again = SecretStorageKey.from_passphrase(key.key_id, key.description, "correct horse")
    assert again.key == key.key
    with pytest.raises(SecretStorageError):
        SecretStorageKey.from_passphrase(key.key_id, key.description, "wrong horse")


def test_account_data_round_trip_and_repr() -> None:
    key = SecretStorageKey.generate()
    content = {"encrypted": {key.key_id: key.encrypt("m.megolm_backup.v1", "backup-key")}}
    assert key.decrypt("m.megolm_backup.v1", content) == "backup-key"
    with pytest.raises(SecretStorageError, match="not encrypted with key"):
        key.decrypt("m.megolm_backup.v1", {"encrypted": {"other": {}}})
    assert base64.b64encode(key.key).decode().rstrip("=") not in repr(key)

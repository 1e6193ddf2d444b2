"""Secret storage (`m.secret_storage.v1.aes-hmac-sha2`, the spec's Secrets module, "Storage").

Secrets (the cross-signing private keys, the backup decryption key) are kept in the user's
account data encrypted with a secret storage key the server never sees: HKDF-SHA-256 (32 zero
bytes of salt, the secret's name as info) gives an AES-256-CTR key and an HMAC-SHA-256 key; the
account data holds `{"encrypted": {key_id: {iv, ciphertext, mac}}}`. The key's description
(`m.secret_storage.key.<id>`) carries an `iv`/`mac` check over 32 zero bytes so a wrong key is
detected, and optionally `m.pbkdf2` parameters for deriving it from a passphrase.

Invariants: IVs are fresh with bit 63 cleared; MACs are checked in constant time before
decrypting; both padded and unpadded Base64 are accepted on input, unpadded is written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.base64 import decode_unpadded, encode_unpadded
from core.errors import JsonDict
from sdk.crypto.errors import SecretStorageError
from sdk.crypto.protocol.recovery_key import decode_recovery_key, encode_recovery_key

__all__ = [
    "ALGORITHM",
    "DEFAULT_KEY_EVENT",
    "PBKDF2_ITERATIONS",
    "SecretStorageKey",
    "decrypt_secret",
    "encrypt_secret",
    "key_event_type",
    "passphrase_key",
]

ALGORITHM: Final = "m.secret_storage.v1.aes-hmac-sha2"
DEFAULT_KEY_EVENT: Final = "m.secret_storage.default_key"
PBKDF2_ITERATIONS: Final = 500_000
_ZERO_SALT: Final = bytes(32)


def key_event_type(key_id: str) -> str:
    """The account data type describing secret storage key `key_id`."""
    return f"m.secret_storage.key.{key_id}"


def _derive(key: bytes, name: str) -> tuple[bytes, bytes]:
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=_ZERO_SALT, info=name.encode()).derive(
        key
    )
    return okm[:32], okm[32:]


def _fresh_iv() -> bytes:
    iv = bytearray(secrets.token_bytes(16))
    iv[8] &= 0x7F  # bit 63 cleared, to avoid differences between AES-CTR implementations
    return bytes(iv)


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    operation = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return operation.update(data) + operation.finalize()


def _b64(obj: JsonDict, name: str) -> bytes:
    value = obj.get(name)
    if not isinstance(value, str):
        raise SecretStorageError(f"secret storage data is missing {name!r}")
    try:
        return decode_unpadded(value)
    except ValueError as exc:
        raise SecretStorageError(f"secret storage {name!r} is not Base64") from exc


def encrypt_secret(key: bytes, name: str, secret: str) -> JsonDict:
    """Encrypt `secret` under storage key `key` for the secret called `name`.

    Returns:
        The `AesHmacSha2EncryptedData` object: `iv`, `ciphertext` and `mac`.
    """
    aes_key, mac_key = _derive(key, name)
    iv = _fresh_iv()
    ciphertext = _ctr(aes_key, iv, secret.encode())
    mac = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
    return {
        "iv": encode_unpadded(iv),
        "ciphertext": encode_unpadded(ciphertext),
        "mac": encode_unpadded(mac),
    }


def decrypt_secret(key: bytes, name: str, encrypted: JsonDict) -> str:
    """Check the MAC of and decrypt one `AesHmacSha2EncryptedData` object.

    Raises:
        SecretStorageError: The data is malformed or its MAC does not match (wrong key,
            wrong secret name, or tampering).
    """
    aes_key, mac_key = _derive(key, name)
    iv, ciphertext, mac = (
        _b64(encrypted, "iv"),
        _b64(encrypted, "ciphertext"),
        _b64(encrypted, "mac"),
    )
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, hashlib.sha256).digest(), mac):
        raise SecretStorageError(f"MAC mismatch for secret {name!r}: wrong key or tampered data")
    try:
        return _ctr(aes_key, iv, ciphertext).decode()
    except (UnicodeDecodeError, ValueError) as exc:
        raise SecretStorageError(f"secret {name!r} is not valid text") from exc


def passphrase_key(passphrase: str, salt: str, iterations: int, bits: int = 256) -> bytes:
    """The `m.pbkdf2` derivation: PBKDF2-HMAC-SHA-512 of the passphrase."""
    return hashlib.pbkdf2_hmac("sha512", passphrase.encode(), salt.encode(), iterations, bits // 8)


@dataclass(frozen=True, slots=True)
class SecretStorageKey:
    """A secret storage key and its public description. `repr` hides the key.

    Attributes:
        key_id: The ID under which the description is stored.
        key: The raw 32-byte key.
        description: The `m.secret_storage.key.<id>` account data content.
    """

    key_id: str
    key: bytes = field(repr=False)
    description: JsonDict

    @classmethod
    def generate(
        cls, name: str = "Tessera", passphrase: str | None = None, *, iterations: int = 0
    ) -> SecretStorageKey:
        """A new random key, or one derived from `passphrase` with fresh PBKDF2 parameters."""
        description: JsonDict = {"name": name, "algorithm": ALGORITHM}
        if passphrase is None:
            key = secrets.token_bytes(32)
        else:
            salt = secrets.token_urlsafe(24)
            rounds = iterations or PBKDF2_ITERATIONS
            key = passphrase_key(passphrase, salt, rounds)
            description["passphrase"] = {
                "algorithm": "m.pbkdf2",
                "salt": salt,
                "iterations": rounds,
                "bits": 256,
            }
        check = encrypt_secret(key, "", "\0" * 32)
        description["iv"], description["mac"] = check["iv"], check["mac"]
        return cls(secrets.token_urlsafe(24), key, description)

    @classmethod
    def from_description(cls, key_id: str, description: JsonDict, key: bytes) -> SecretStorageKey:
        """Bind `key` to a stored description, checking it against the `iv`/`mac` if present.

        Raises:
            SecretStorageError: Wrong algorithm, or the key fails the check.
        """
        if description.get("algorithm") != ALGORITHM:
            raise SecretStorageError("unsupported secret storage algorithm")
        if "iv" in description and "mac" in description:
            aes_key, mac_key = _derive(key, "")
            ciphertext = _ctr(aes_key, _b64(description, "iv"), bytes(32))
            expected = hmac.new(mac_key, ciphertext, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _b64(description, "mac")):
                raise SecretStorageError("this is not the key the secret storage was set up with")
        return cls(key_id, key, description)

    @classmethod
    def from_passphrase(
        cls, key_id: str, description: JsonDict, passphrase: str
    ) -> SecretStorageKey:
        """Derive the key from `passphrase` using the description's `m.pbkdf2` parameters.

        Raises:
            SecretStorageError: No passphrase parameters, or the derived key is wrong.
        """
        params = description.get("passphrase")
        if not isinstance(params, dict) or params.get("algorithm") != "m.pbkdf2":
            raise SecretStorageError("this secret storage key has no m.pbkdf2 passphrase")
        salt, rounds, bits = params.get("salt"), params.get("iterations"), params.get("bits", 256)
        if not isinstance(salt, str) or not isinstance(rounds, int) or not isinstance(bits, int):
            raise SecretStorageError("malformed m.pbkdf2 parameters")
        return cls.from_description(
            key_id, description, passphrase_key(passphrase, salt, rounds, bits)
        )

    @classmethod
    def from_recovery_key(cls, key_id: str, description: JsonDict, text: str) -> SecretStorageKey:
        """Read a key typed in its base58 representation and check it."""
        return cls.from_description(key_id, description, decode_recovery_key(text))

    def to_recovery_key(self) -> str:
        """The key in the spec's base58 representation, to show the user once."""
        return encode_recovery_key(self.key)

    def encrypt(self, name: str, secret: str) -> JsonDict:
        """The `encrypted` map entry for `secret` under this key."""
        return encrypt_secret(self.key, name, secret)

    def decrypt(self, name: str, account_data: JsonDict) -> str:
        """Decrypt secret `name` from its account data content (`{"encrypted": {...}}`).

        Raises:
            SecretStorageError: Not encrypted with this key, or tampered.
        """
        encrypted = account_data.get("encrypted")
        entry = encrypted.get(self.key_id) if isinstance(encrypted, dict) else None
        if not isinstance(entry, dict):
            raise SecretStorageError(f"secret {name!r} is not encrypted with key {self.key_id}")
        return decrypt_secret(self.key, name, entry)

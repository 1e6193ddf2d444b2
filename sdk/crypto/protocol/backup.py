"""Server-side key backup, `m.megolm_backup.v1.curve25519-aes-sha2` (spec "Server-side key backups").

Each Megolm session is serialised as `BackedUpSessionData` JSON and encrypted to the backup's
Curve25519 public key with vodozemac's `PkEncryption` (ECDH with an ephemeral key, HKDF,
AES-256-CBC and the libolm-compatible MAC), giving the `session_data` object
`{ephemeral, ciphertext, mac}`. Only the holder of the private key — shown to the user as a
recovery key in the spec's base58 representation, or kept in secret storage under
`m.megolm_backup.v1` — can decrypt.

Invariants: the private key is hidden from `repr`; a backup is only restored with a key whose
public half matches the backup's `auth_data.public_key`; a session that does not decrypt or
parse raises `BackupError` rather than being skipped silently by this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from core.base64 import decode_unpadded, encode_unpadded
from core.errors import JsonDict
from sdk.crypto._vodozemac import (
    Curve25519PublicKey,
    Curve25519SecretKey,
    Message,
    PkDecryption,
    PkEncryption,
    VodozemacError,
)
from sdk.crypto.errors import BackupError
from sdk.crypto.protocol.recovery_key import decode_recovery_key, encode_recovery_key

__all__ = ["BACKUP_ALGORITHM", "BACKUP_SECRET_NAME", "BackupEncryptor", "BackupKey"]

BACKUP_ALGORITHM: Final = "m.megolm_backup.v1.curve25519-aes-sha2"
BACKUP_SECRET_NAME: Final = "m.megolm_backup.v1"  # noqa: S105 - a secret's name, not a secret


class BackupEncryptor:
    """Encrypts session data to a backup's public key (what every device can do)."""

    __slots__ = ("_pk", "public_key")

    def __init__(self, public_key: str) -> None:
        """Args: public_key: The backup's unpadded Base64 Curve25519 public key."""
        try:
            self._pk = PkEncryption.from_key(Curve25519PublicKey.from_base64(public_key))
        except VodozemacError as exc:
            raise BackupError("backup public key is not a Curve25519 key") from exc
        self.public_key = public_key

    def encrypt(self, session: JsonDict) -> JsonDict:
        """The `session_data` object for one `BackedUpSessionData` dict."""
        message = self._pk.encrypt(json.dumps(session, separators=(",", ":")).encode())
        # The byte attributes, not `Message.to_base64()`: the binding's tuple order differs
        # from its documentation.
        return {
            "ephemeral": encode_unpadded(message.ephemeral_key),
            "ciphertext": encode_unpadded(message.ciphertext),
            "mac": encode_unpadded(message.mac),
        }


@dataclass(frozen=True, slots=True)
class BackupKey:
    """The backup decryption key. `repr` hides it.

    Attributes:
        secret: The 32-byte Curve25519 private key.
    """

    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> BackupKey:
        """A fresh random backup key."""
        return cls(Curve25519SecretKey().to_bytes())

    @classmethod
    def from_recovery_key(cls, text: str) -> BackupKey:
        """Read the key from its base58 representation.

        Raises:
            InvalidRecoveryKey: The string is not a valid encoded key.
        """
        return cls(decode_recovery_key(text))

    @classmethod
    def from_base64(cls, text: str) -> BackupKey:
        """Read the key as stored in secret storage (unpadded Base64)."""
        try:
            raw = decode_unpadded(text)
        except ValueError as exc:
            raise BackupError("stored backup key is not Base64") from exc
        if len(raw) != 32:
            raise BackupError("stored backup key is not 32 bytes")
        return cls(raw)

    def to_recovery_key(self) -> str:
        """The key in the spec's base58 representation, to show the user."""
        return encode_recovery_key(self.secret)

    def to_base64(self) -> str:
        """The key as a secret storage secret (unpadded Base64)."""
        return encode_unpadded(self.secret)

    @property
    def public_key(self) -> str:
        """The matching Curve25519 public key, unpadded Base64 (the backup's `public_key`)."""
        return self._decryption().public_key.to_base64()

    def _decryption(self) -> PkDecryption:
        return PkDecryption.from_key(Curve25519SecretKey.from_bytes(self.secret))

    def encryptor(self) -> BackupEncryptor:
        """An encryptor for this key's public half."""
        return BackupEncryptor(self.public_key)

    def auth_data(self) -> JsonDict:
        """Unsigned `auth_data` for creating a backup version with this key."""
        return {"public_key": self.public_key}

    def matches(self, version_info: JsonDict) -> bool:
        """Whether this key can decrypt the backup described by a `GET room_keys/version` body."""
        auth_data = version_info.get("auth_data")
        return (
            version_info.get("algorithm") == BACKUP_ALGORITHM
            and isinstance(auth_data, dict)
            and auth_data.get("public_key") == self.public_key
        )

    def decrypt(self, session_data: JsonDict) -> JsonDict:
        """Decrypt one `session_data` object into its `BackedUpSessionData` dict.

        Raises:
            BackupError: Malformed data, wrong key, or a payload that is not a JSON object.
        """
        parts = [session_data.get(name) for name in ("ciphertext", "mac", "ephemeral")]
        if not all(isinstance(part, str) for part in parts):
            raise BackupError("backed-up session data is missing ciphertext, mac or ephemeral")
        try:
            ciphertext, mac, ephemeral = (decode_unpadded(str(part)) for part in parts)
            message = Message(ciphertext, mac, ephemeral)
            plaintext = self._decryption().decrypt(message)
            value = json.loads(plaintext)
        except (VodozemacError, UnicodeDecodeError) as exc:
            raise BackupError("backed-up session does not decrypt with this key") from exc
        if not isinstance(value, dict):
            raise BackupError("backed-up session is not a JSON object")
        return value

"""End-to-end encryption for the Tessera SDK, on vodozemac.

`E2EE.install(client)` gives an `AsyncClient` Olm/Megolm encryption (it implements
`sdk.hooks.CryptoHooks` and `AttachmentCrypto`), device trust and emoji verification, key backup,
secret storage, cross-signing, history sharing, and signed file events. `OlmMachine` is the
sans-I/O core underneath, usable without a network. The pure building blocks (attachments,
recovery keys, secret storage, backup keys, signed files) are importable on their own.

Layout: `protocol/` (the pure or near-pure building blocks: account, Olm and Megolm sessions,
devices, cross-signing, signing, SAS, attachments, signed files, backup keys, secret storage,
recovery keys), `machine/` (the sans-I/O machine, one module per API group), `e2ee/` (the I/O shell
on the client: `E2EE`, the driver, files, recovery, verification); beside them `_vodozemac` (the
only module importing vodozemac), `store` and `errors`.
"""

from __future__ import annotations

from sdk.crypto.e2ee.client import E2EE
from sdk.crypto.e2ee.files import DownloadedFile
from sdk.crypto.e2ee.verification import Verification
from sdk.crypto.errors import (
    AttachmentError,
    AttachmentHashMismatch,
    BackupError,
    CryptoError,
    CryptoStoreError,
    DecryptionError,
    FileSignatureInvalid,
    InvalidRecoveryKey,
    MissingRoomKey,
    ReplayedMessage,
    SecretStorageError,
    SignatureInvalid,
    UnsignedFile,
    VerificationError,
    WrongPassphrase,
)
from sdk.crypto.machine.olm_machine import OlmMachine
from sdk.crypto.machine.rooms import DecryptedRoomEvent, RoomSettings
from sdk.crypto.protocol.attachments import (
    AttachmentDecryptor,
    AttachmentEncryptor,
    EncryptedAttachment,
    decrypt_attachment,
    encrypt_attachment,
)
from sdk.crypto.protocol.backup import BackupKey
from sdk.crypto.protocol.devices import Device, DeviceTrust
from sdk.crypto.protocol.recovery_key import decode_recovery_key, encode_recovery_key
from sdk.crypto.protocol.sas import SasState
from sdk.crypto.protocol.secret_storage import SecretStorageKey
from sdk.crypto.protocol.signed_files import SIGNED_FILE_KEY, FileTrust
from sdk.crypto.store import CryptoStore, MemoryBackend

__all__ = [
    "E2EE",
    "SIGNED_FILE_KEY",
    "AttachmentDecryptor",
    "AttachmentEncryptor",
    "AttachmentError",
    "AttachmentHashMismatch",
    "BackupError",
    "BackupKey",
    "CryptoError",
    "CryptoStore",
    "CryptoStoreError",
    "DecryptedRoomEvent",
    "DecryptionError",
    "Device",
    "DeviceTrust",
    "DownloadedFile",
    "EncryptedAttachment",
    "FileSignatureInvalid",
    "FileTrust",
    "InvalidRecoveryKey",
    "MemoryBackend",
    "MissingRoomKey",
    "OlmMachine",
    "ReplayedMessage",
    "RoomSettings",
    "SasState",
    "SecretStorageError",
    "SecretStorageKey",
    "SignatureInvalid",
    "UnsignedFile",
    "Verification",
    "VerificationError",
    "WrongPassphrase",
    "decode_recovery_key",
    "decrypt_attachment",
    "encode_recovery_key",
    "encrypt_attachment",
]

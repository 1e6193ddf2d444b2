"""Encrypted attachments in the spec's v2 format ("Sending encrypted attachments").

A file is encrypted with a fresh random AES-256 key in CTR mode; the 128-bit counter block is a
random 64-bit IV followed by a 64-bit block counter starting at zero. The event carries an
`EncryptedFile` object: the key as a JWK (`kty: oct`, `alg: A256CTR`, `key_ops`
`["encrypt", "decrypt"]`, URL-safe unpadded Base64 `k`, `ext: true`), the IV and the SHA-256 of
the ciphertext in unpadded Base64, and `v: "v2"` — the format Element reads and writes.

`AttachmentEncryptor` and `AttachmentDecryptor` do the same chunk by chunk (AES-CTR is a stream
cipher and SHA-256 is incremental) for files streamed from and to disk (`sdk.transfer`).

Invariants: a key and IV are never reused (both are fresh per call, or per encryptor; an
encryptor's `restart` re-encrypts the same plaintext to the same ciphertext for a retried upload);
`decrypt_attachment` checks the ciphertext hash (in constant time) before it decrypts anything and
raises `AttachmentHashMismatch` on any difference, so tampered data is never returned; a
decryptor's `finish` makes the same check after the last chunk, and its caller (`FileSink`)
releases nothing before that check passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from core.base64 import decode_unpadded, encode_unpadded
from core.errors import JsonDict
from sdk.crypto.errors import AttachmentError, AttachmentHashMismatch

__all__ = [
    "AttachmentDecryptor",
    "AttachmentEncryptor",
    "EncryptedAttachment",
    "decrypt_attachment",
    "encrypt_attachment",
    "sha256_b64",
]

_KEY_BYTES: Final = 32
_IV_RANDOM_BYTES: Final = 8
_IV_BYTES: Final = 16
_VERSION: Final = "v2"


@dataclass(frozen=True, slots=True)
class EncryptedAttachment:
    """The result of encrypting a file.

    Attributes:
        ciphertext: The bytes to upload to the media repository.
        key: The raw AES key (hidden from repr).
        iv: The 16-byte counter block start.
        sha256: Unpadded Base64 SHA-256 of `ciphertext`.
    """

    ciphertext: bytes = field(repr=False)
    key: bytes = field(repr=False)
    iv: bytes
    sha256: str

    def file_info(self, url: str) -> JsonDict:
        """The spec's `EncryptedFile` object for the uploaded ciphertext at `url`."""
        return {
            "url": url,
            "key": {
                "kty": "oct",
                "key_ops": ["encrypt", "decrypt"],
                "alg": "A256CTR",
                "k": encode_unpadded(self.key, urlsafe=True),
                "ext": True,
            },
            "iv": encode_unpadded(self.iv),
            "hashes": {"sha256": self.sha256},
            "v": _VERSION,
        }


def sha256_b64(data: bytes) -> str:
    """The unpadded Base64 SHA-256 of `data`."""
    return encode_unpadded(hashlib.sha256(data).digest())


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    operation = _ctr_operation(key, iv)
    return operation.update(data) + operation.finalize()


def _ctr_operation(key: bytes, iv: bytes) -> CipherContext:
    # CTR is its own inverse; `cryptography` increments the full 128-bit block, which matches
    # the spec because the low 64 bits start at zero and a file never wraps 2**64 blocks.
    return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()


def _fresh_key_and_iv() -> tuple[bytes, bytes]:
    key = secrets.token_bytes(_KEY_BYTES)
    return key, secrets.token_bytes(_IV_RANDOM_BYTES) + bytes(_IV_BYTES - _IV_RANDOM_BYTES)


def encrypt_attachment(plaintext: bytes) -> EncryptedAttachment:
    """Encrypt `plaintext` with a fresh key and IV."""
    key, iv = _fresh_key_and_iv()
    ciphertext = _ctr(key, iv, plaintext)
    return EncryptedAttachment(ciphertext, key, iv, sha256_b64(ciphertext))


class AttachmentEncryptor:
    """Encrypts one file chunk by chunk under a fresh key and IV (a `sdk.transfer.ChunkTransform`).

    After a complete pass, `file_info(url)` is the `EncryptedFile` object for the uploaded
    ciphertext; `restart` begins the pass again with the same key and IV.
    """

    def __init__(self) -> None:
        self._key, self._iv = _fresh_key_and_iv()
        self._operation = _ctr_operation(self._key, self._iv)
        self._hash = hashlib.sha256()
        self._sha256: str | None = None

    def __repr__(self) -> str:
        return "AttachmentEncryptor(<key hidden>)"

    def restart(self) -> None:
        """Start over from the first plaintext byte."""
        self._operation = _ctr_operation(self._key, self._iv)
        self._hash, self._sha256 = hashlib.sha256(), None

    def update(self, chunk: bytes) -> bytes:
        """The ciphertext of the next plaintext chunk."""
        ciphertext = self._operation.update(chunk)
        self._hash.update(ciphertext)
        return ciphertext

    def finish(self) -> None:
        """End the pass; the hash of its ciphertext goes into `file_info`."""
        self._sha256 = encode_unpadded(self._hash.digest())

    def file_info(self, url: str) -> JsonDict:
        """The `EncryptedFile` object for the ciphertext of the last complete pass at `url`.

        Raises:
            AttachmentError: No pass has been completed.
        """
        if self._sha256 is None:
            raise AttachmentError("the attachment has not been encrypted to the end")
        return EncryptedAttachment(b"", self._key, self._iv, self._sha256).file_info(url)


class AttachmentDecryptor:
    """Decrypts one downloaded `EncryptedFile` chunk by chunk (a `sdk.transfer.ChunkTransform`).

    `finish` checks the ciphertext hash after the last chunk and raises `AttachmentHashMismatch`
    on any difference: the plaintext it returned so far must be discarded then.
    """

    def __init__(self, file_info: JsonDict) -> None:
        """Check the object's format.

        Raises:
            AttachmentError: It is malformed or uses an unsupported version or key type.
        """
        self._key, self._iv, self._expected = _parse_file_info(file_info)
        self._operation = _ctr_operation(self._key, self._iv)
        self._hash = hashlib.sha256()

    def __repr__(self) -> str:
        return "AttachmentDecryptor(<key hidden>)"

    def restart(self) -> None:
        """Start over from the first ciphertext byte."""
        self._operation = _ctr_operation(self._key, self._iv)
        self._hash = hashlib.sha256()

    def update(self, chunk: bytes) -> bytes:
        """The plaintext of the next ciphertext chunk (unverified until `finish`)."""
        self._hash.update(chunk)
        return self._operation.update(chunk)

    def finish(self) -> None:
        """Check the hash of all the ciphertext seen.

        Raises:
            AttachmentHashMismatch: It differs from the event's hash.
        """
        if not hmac.compare_digest(self._hash.digest(), self._expected):
            raise AttachmentHashMismatch("ciphertext SHA-256 does not match the event's hash")


def _field(obj: JsonDict, name: str) -> object:
    if name not in obj:
        raise AttachmentError(f"encrypted file is missing {name!r}")
    return obj[name]


def _parse_key(jwk: object) -> bytes:
    if not isinstance(jwk, dict):
        raise AttachmentError("encrypted file 'key' must be a JWK object")
    if jwk.get("kty") != "oct" or jwk.get("alg") != "A256CTR":
        raise AttachmentError("unsupported JWK: expected kty 'oct' and alg 'A256CTR'")
    key_ops = jwk.get("key_ops")
    if not isinstance(key_ops, list) or "decrypt" not in key_ops:
        raise AttachmentError("JWK key_ops must include 'decrypt'")
    k = jwk.get("k")
    try:
        key = decode_unpadded(k, urlsafe=True) if isinstance(k, str) else b""
    except ValueError as exc:
        raise AttachmentError("JWK 'k' is not URL-safe Base64") from exc
    if len(key) != _KEY_BYTES:
        raise AttachmentError("JWK 'k' must be a 256-bit key")
    return key


def _parse_iv(value: object) -> bytes:
    try:
        iv = decode_unpadded(value) if isinstance(value, str) else b""
    except ValueError as exc:
        raise AttachmentError("encrypted file 'iv' is not Base64") from exc
    if len(iv) != _IV_BYTES:
        raise AttachmentError("encrypted file 'iv' must be 16 bytes")
    return iv


def decrypt_attachment(ciphertext: bytes, file_info: JsonDict) -> bytes:
    """Check the ciphertext's hash against `file_info` and decrypt it.

    Args:
        ciphertext: The downloaded bytes.
        file_info: The event's `EncryptedFile` object (`file` or `thumbnail_file`).

    Raises:
        AttachmentHashMismatch: The SHA-256 of `ciphertext` differs from `hashes.sha256`.
        AttachmentError: The object is malformed or uses an unsupported version or key type.
    """
    key, iv, expected_digest = _parse_file_info(file_info)
    if not hmac.compare_digest(hashlib.sha256(ciphertext).digest(), expected_digest):
        raise AttachmentHashMismatch("ciphertext SHA-256 does not match the event's hash")
    return _ctr(key, iv, ciphertext)


def _parse_file_info(file_info: JsonDict) -> tuple[bytes, bytes, bytes]:
    """The key, IV and expected ciphertext digest of an `EncryptedFile` object."""
    version = _field(file_info, "v")
    if version != _VERSION:
        raise AttachmentError(f"unsupported encrypted file version {version!r}")
    hashes = _field(file_info, "hashes")
    expected = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(expected, str):
        raise AttachmentError("encrypted file has no sha256 hash")
    key = _parse_key(_field(file_info, "key"))
    iv = _parse_iv(_field(file_info, "iv"))
    try:
        return key, iv, decode_unpadded(expected)
    except ValueError as exc:
        raise AttachmentError("encrypted file sha256 is not Base64") from exc

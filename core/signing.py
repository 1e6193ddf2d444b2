"""Ed25519 keys and signed JSON (spec appendix "Signing JSON", "Checking for a Signature").

Owns the server's signing key type, its one-line file format, public verify keys, and the
sign/verify operations on JSON objects. Invariants:

- A signature covers the canonical JSON of the object without `signatures` and `unsigned`;
  both are carried over untouched, so other signers and hops can add to them.
- Nothing here mutates its input: `sign_json` returns a new dict.
- A `SigningKey` never shows its seed in `repr`; only `encode_signing_key_file` writes it out.
- Verification failures raise `SignatureError` (a `ValueError`), not `MatrixError`: what a bad
  signature means (drop the PDU, 401 the request, distrust the key) is the caller's decision.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import nacl.exceptions
import nacl.signing

from core.base64 import decode_unpadded, encode_unpadded
from core.canonical_json import encode_canonical
from core.errors import JsonDict

__all__ = [
    "ED25519",
    "SignatureError",
    "SigningKey",
    "VerifyKey",
    "decode_signing_key_file",
    "decode_verify_key",
    "encode_signing_key_file",
    "generate_signing_key",
    "sign_json",
    "signable_bytes",
    "signable_json",
    "signature_of",
    "signed_key_ids",
    "signing_key_from_seed",
    "verify_json_signature",
]

ED25519: Final = "ed25519"
# The spec's server key documents restrict key versions to this alphabet.
_KEY_VERSION: Final = re.compile(r"[A-Za-z0-9_]+")
_SEED_BYTES: Final = 32
_VERSION_ALPHABET: Final = string.ascii_letters + string.digits


class SignatureError(ValueError):
    """A signature is missing, malformed, or does not verify."""


def _check_version(version: str) -> str:
    if not _KEY_VERSION.fullmatch(version):
        raise ValueError("key version must match [a-zA-Z0-9_]+")
    return version


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """A public Ed25519 key and the version under which its owner publishes it.

    Attributes:
        version: The part of the key ID after `ed25519:`.
        nacl_key: The PyNaCl verify key.
    """

    version: str
    nacl_key: nacl.signing.VerifyKey

    @property
    def algorithm(self) -> str:
        return ED25519

    @property
    def key_id(self) -> str:
        """`ed25519:<version>`, the key's name in `signatures` and key documents."""
        return f"{ED25519}:{self.version}"

    def encode(self) -> str:
        """The public key as unpadded Base64, as published in `verify_keys`."""
        return encode_unpadded(bytes(self.nacl_key))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private Ed25519 signing key with its version. `repr` hides the seed.

    Attributes:
        version: The part of the key ID after `ed25519:`.
        nacl_key: The PyNaCl signing key (holds the 32-byte seed).
    """

    version: str
    nacl_key: nacl.signing.SigningKey = field(repr=False)

    @property
    def algorithm(self) -> str:
        return ED25519

    @property
    def key_id(self) -> str:
        """`ed25519:<version>`, the name this key's signatures are stored under."""
        return f"{ED25519}:{self.version}"

    @property
    def verify_key(self) -> VerifyKey:
        """The matching public key."""
        return VerifyKey(self.version, self.nacl_key.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The detached 64-byte Ed25519 signature of `message`."""
        return self.nacl_key.sign(message).signature


def signing_key_from_seed(seed: bytes, version: str) -> SigningKey:
    """Build a signing key from its 32-byte seed.

    Raises:
        ValueError: If the seed is not 32 bytes or the version is not `[a-zA-Z0-9_]+`.
    """
    if len(seed) != _SEED_BYTES:
        raise ValueError("an ed25519 seed is 32 bytes")
    return SigningKey(_check_version(version), nacl.signing.SigningKey(seed))


def generate_signing_key(version: str | None = None) -> SigningKey:
    """Generate a new random signing key.

    Args:
        version: The key version; a random `a_XXXX` when None.
    """
    if version is None:
        version = "a_" + "".join(secrets.choice(_VERSION_ALPHABET) for _ in range(4))
    return SigningKey(_check_version(version), nacl.signing.SigningKey.generate())


def encode_signing_key_file(key: SigningKey) -> str:
    """Serialize `key` as the common one-line key file `ed25519 <version> <seed>` plus newline."""
    seed = encode_unpadded(bytes(key.nacl_key))
    return f"{ED25519} {key.version} {seed}\n"


def decode_signing_key_file(text: str) -> SigningKey:
    """Parse a key file written by `encode_signing_key_file` (or Synapse's equivalent).

    Raises:
        ValueError: If the text is not exactly one `ed25519 <version> <base64 seed>` line.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ValueError("a signing key file holds exactly one key line")
    parts = lines[0].split()
    if len(parts) != 3 or parts[0] != ED25519:
        raise ValueError("expected 'ed25519 <version> <base64 seed>'")
    return signing_key_from_seed(decode_unpadded(parts[2]), parts[1])


def decode_verify_key(key_id: str, key_base64: str) -> VerifyKey:
    """Build a verify key from a key ID and its published unpadded Base64 public key.

    Raises:
        ValueError: If the algorithm is not ed25519, the version is malformed, or the key
            is not 32 bytes of Base64.
    """
    algorithm, sep, version = key_id.partition(":")
    if not sep or algorithm != ED25519:
        raise ValueError(f"unsupported key algorithm in {key_id!r}")
    raw = decode_unpadded(key_base64)
    if len(raw) != _SEED_BYTES:
        raise ValueError("an ed25519 public key is 32 bytes")
    return VerifyKey(_check_version(version), nacl.signing.VerifyKey(raw))


def signable_json(obj: Mapping[str, Any]) -> JsonDict:
    """`obj` without `signatures` and `unsigned`: the part a signature covers."""
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def signable_bytes(obj: Mapping[str, Any]) -> bytes:
    """The bytes a signature on `obj` covers, per the spec's "Signing JSON".

    Every signed JSON object uses this (server keys, events' redacted forms, end-to-end keys,
    third-party invites): the canonical JSON of `signable_json(obj)`.

    Raises:
        ValueError: If `obj` is not canonical-JSON encodable.
    """
    return encode_canonical(signable_json(obj))


def sign_json(obj: JsonDict, signer_name: str, key: SigningKey) -> JsonDict:
    """Sign a JSON object per the spec's "Signing JSON".

    Args:
        obj: The object; not modified.
        signer_name: The entity signing, e.g. a server name or user ID.
        key: The signing key.

    Returns:
        A new dict equal to `obj` with `signatures[signer_name][key.key_id]` set; other
        signatures and `unsigned` are kept.

    Raises:
        ValueError: If `obj` is not canonical-JSON encodable or `signatures` is not an object.
    """
    existing = obj.get("signatures", {})
    if not isinstance(existing, dict):
        raise ValueError("'signatures' must be an object")
    signature = encode_unpadded(key.sign(signable_bytes(obj)))
    signatures = {name: dict(keys) for name, keys in existing.items()}
    signatures.setdefault(signer_name, {})[key.key_id] = signature
    return {**obj, "signatures": signatures}


def signature_of(obj: JsonDict, signer_name: str, key_id: str) -> str | None:
    """The Base64 signature `signer_name` made with `key_id` on `obj`, or None."""
    signatures = obj.get("signatures")
    if not isinstance(signatures, dict):
        return None
    by_signer = signatures.get(signer_name)
    if not isinstance(by_signer, dict):
        return None
    value = by_signer.get(key_id)
    return value if isinstance(value, str) else None


def signed_key_ids(obj: JsonDict, signer_name: str) -> list[str]:
    """The ed25519 key IDs `signer_name` has signatures under, sorted.

    Key IDs of other algorithms are left out, as "Checking for a Signature" step 2 says.
    """
    signatures = obj.get("signatures")
    by_signer = signatures.get(signer_name) if isinstance(signatures, dict) else None
    if not isinstance(by_signer, dict):
        return []
    return sorted(k for k in by_signer if isinstance(k, str) and k.startswith(f"{ED25519}:"))


def verify_json_signature(
    obj: JsonDict, signer_name: str, key_id: str, verify_key: VerifyKey
) -> None:
    """Check that `signer_name` signed `obj` with `key_id`, per "Checking for a Signature".

    Args:
        obj: The signed object.
        signer_name: The entity whose signature is required.
        key_id: Which of its signatures to check, e.g. `ed25519:abc`.
        verify_key: The public key to check it against (looked up by the caller).

    Raises:
        SignatureError: If the signature is absent, not Base64, or does not verify.
    """
    encoded = signature_of(obj, signer_name, key_id)
    if encoded is None:
        raise SignatureError(f"no signature from {signer_name} with {key_id}")
    try:
        signature = decode_unpadded(encoded)
        message = signable_bytes(obj)
    except ValueError as exc:
        raise SignatureError(f"malformed signed object or signature: {exc}") from exc
    try:
        verify_key.nacl_key.verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError) as exc:
        # PyNaCl raises ValueError for a signature of the wrong length.
        raise SignatureError(f"bad signature from {signer_name} with {key_id}") from exc

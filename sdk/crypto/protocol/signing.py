"""Signed JSON for end-to-end encryption: device keys, one-time keys, cross-signing keys.

`core.signing` covers server keys, whose key versions are restricted to `[A-Za-z0-9_]`; here key
IDs are `ed25519:<device_id>` or `ed25519:<base64 public key>` (cross-signing), so this module
checks signatures against an explicitly given public key instead. The signed bytes come from
`core.signing.signable_bytes`, the one definition of what a signature covers. Inputs are never mutated.
"""

from __future__ import annotations

from core.errors import JsonDict
from core.signing import signable_bytes
from sdk.crypto._vodozemac import verify_ed25519
from sdk.crypto.errors import SignatureInvalid

__all__ = ["add_signature", "check_signature", "has_valid_signature", "signable_bytes"]


def add_signature(obj: JsonDict, signer: str, key_id: str, signature: str) -> JsonDict:
    """A copy of `obj` with `signatures[signer][key_id] = signature`; other signatures kept."""
    existing = obj.get("signatures", {})
    if not isinstance(existing, dict):
        raise ValueError("'signatures' must be an object")
    signatures = {name: dict(keys) for name, keys in existing.items() if isinstance(keys, dict)}
    signatures.setdefault(signer, {})[key_id] = signature
    return {**obj, "signatures": signatures}


def has_valid_signature(obj: JsonDict, signer: str, key_id: str, public_key: str) -> bool:
    """Whether `signer` signed `obj` under `key_id` with the Ed25519 key `public_key`."""
    signatures = obj.get("signatures")
    by_signer = signatures.get(signer) if isinstance(signatures, dict) else None
    signature = by_signer.get(key_id) if isinstance(by_signer, dict) else None
    if not isinstance(signature, str):
        return False
    try:
        message = signable_bytes(obj)
    except ValueError:
        return False
    return verify_ed25519(public_key, message, signature)


def check_signature(obj: JsonDict, signer: str, key_id: str, public_key: str) -> None:
    """Like `has_valid_signature`, raising instead of returning False.

    Raises:
        SignatureInvalid: The signature is missing, malformed or wrong.
    """
    if not has_valid_signature(obj, signer, key_id, public_key):
        raise SignatureInvalid(f"missing or bad signature by {signer} with {key_id}")

"""Validation of uploaded end-to-end encryption keys (pure: no I/O).

Everything a client uploads is checked for the spec's shape and its signatures before anything
is stored: device keys must name the requester's user and device and be signed by the device's
own Ed25519 key; signed one-time and fallback keys must be signed by that key too; cross-signing
keys must carry exactly one Ed25519 key under `ed25519:<public key>` and the right usage.
Every refusal is `M_INVALID_PARAM` unless the spec names another code.
"""

from __future__ import annotations

from typing import Any

from core.canonical_json import encode_canonical
from core.errors import M_INVALID_PARAM, JsonDict, MatrixError
from core.identifiers import DeviceId, UserId
from core.signing import SignatureError, VerifyKey, decode_verify_key, verify_json_signature
from homeserver.storage.e2ee.keys import OneTimeKey

ED25519 = "ed25519"
SIGNED_CURVE25519 = "signed_curve25519"


def invalid(message: str) -> MatrixError:
    """The `M_INVALID_PARAM` error with `message`."""
    return MatrixError(M_INVALID_PARAM, message)


def ed25519_key(public_key: object) -> VerifyKey:
    """An Ed25519 public key from unpadded Base64; `M_INVALID_PARAM` if it is not one."""
    if not isinstance(public_key, str):
        raise invalid("An ed25519 key must be a string")
    try:
        # The key ID is passed separately when verifying; this version is only a placeholder
        # because device IDs and Base64 public keys are not valid server key versions.
        return decode_verify_key(f"{ED25519}:key", public_key)
    except ValueError as exc:
        raise invalid("Invalid ed25519 key") from exc


def check_signed(obj: JsonDict, signer: UserId, key_id: str, key: VerifyKey, what: str) -> None:
    """Require `signer`'s signature with `key_id` on `obj`; `M_INVALID_PARAM` otherwise."""
    try:
        verify_json_signature(obj, signer, key_id, key)
    except SignatureError as exc:
        raise invalid(f"Invalid signature on {what}") from exc


def _string_map(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise invalid(f"{what} must be an object of strings")
    return value


def parse_device_keys(
    value: object, user_id: UserId, device_id: DeviceId
) -> tuple[JsonDict, VerifyKey]:
    """Validate uploaded `device_keys`; returns them and the device's Ed25519 key.

    Raises:
        MatrixError: `M_INVALID_PARAM` for a wrong shape, another user or device, or a
            missing or bad self-signature.
    """
    if not isinstance(value, dict):
        raise invalid("device_keys must be an object")
    if value.get("user_id") != user_id or value.get("device_id") != device_id:
        raise invalid("device_keys must be for the requesting user and device")
    algorithms = value.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise invalid("algorithms must be a list of strings")
    keys = _string_map(value.get("keys"), "keys")
    if not isinstance(value.get("signatures"), dict):
        raise invalid("signatures must be an object")
    key_id = f"{ED25519}:{device_id}"
    if key_id not in keys:
        raise invalid(f"device_keys must include {key_id}")
    verify_key = ed25519_key(keys[key_id])
    check_signed(value, user_id, key_id, verify_key, "device_keys")
    return value, verify_key


def parse_one_time_keys(
    value: object,
    user_id: UserId,
    device_id: DeviceId,
    device_key: VerifyKey | None,
    *,
    fallback: bool,
) -> list[OneTimeKey]:
    """Validate `one_time_keys` or `fallback_keys`; signed keys must be signed by the device.

    Args:
        value: The uploaded object, `<algorithm>:<key_id>` → key.
        user_id: The requester.
        device_id: The requester's device.
        device_key: The device's Ed25519 key (from this upload or stored), if known.
        fallback: Whether these are fallback keys (at most one per algorithm).

    Raises:
        MatrixError: `M_INVALID_PARAM` for a malformed name or key, a missing or bad
            signature, or two fallback keys of one algorithm.
    """
    if value is None:
        return []
    if not isinstance(value, dict):
        raise invalid("keys must be an object")
    keys: list[OneTimeKey] = []
    for name, key in value.items():
        algorithm, _, key_id = name.partition(":")
        if not algorithm or not key_id:
            raise invalid(f"Invalid key name {name!r}")
        if isinstance(key, dict):
            _check_signed_key(key, name, user_id, device_id, device_key)
        elif not isinstance(key, str) or algorithm == SIGNED_CURVE25519:
            raise invalid(f"Invalid key {name!r}")
        keys.append(OneTimeKey(algorithm, key_id, key))
    if fallback and len({k.algorithm for k in keys}) != len(keys):
        raise invalid("At most one fallback key per algorithm")
    return keys


def _check_signed_key(
    key: dict[str, Any],
    name: str,
    user_id: UserId,
    device_id: DeviceId,
    device_key: VerifyKey | None,
) -> None:
    if not isinstance(key.get("key"), str):
        raise invalid(f"Key {name!r} must have a string 'key'")
    if device_key is None:
        raise invalid("Upload device keys before signed one-time or fallback keys")
    check_signed(key, user_id, f"{ED25519}:{device_id}", device_key, f"key {name!r}")


def parse_cross_signing_key(value: object, user_id: UserId, usage: str) -> tuple[str, VerifyKey]:
    """Validate a cross-signing key object; returns its public key (Base64) and verify key.

    Raises:
        MatrixError: `M_INVALID_PARAM` for a wrong shape, user or usage.
    """
    if not isinstance(value, dict):
        raise invalid(f"{usage} key must be an object")
    if value.get("user_id") != user_id:
        raise invalid(f"{usage} key must belong to the requesting user")
    usages = value.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        raise invalid(f"{usage} key must have usage {usage}")
    keys = _string_map(value.get("keys"), "keys")
    if len(keys) != 1:
        raise invalid(f"{usage} key must hold exactly one key")
    (key_id, public_key), *_ = keys.items()
    if key_id != f"{ED25519}:{public_key}":
        raise invalid(f"{usage} key must be named ed25519:<public key>")
    if "signatures" in value and not isinstance(value["signatures"], dict):
        raise invalid("signatures must be an object")
    try:
        encode_canonical(value)  # it is stored and signed as canonical JSON
    except ValueError as exc:
        raise invalid(f"{usage} key is not canonical JSON") from exc
    return public_key, ed25519_key(public_key)

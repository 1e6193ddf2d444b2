"""The pure key validation of `homeserver.services.e2ee.key_validation`, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import MatrixError
from core.signing import sign_json
from homeserver.services.e2ee.key_validation import (
    parse_cross_signing_key,
    parse_device_keys,
    parse_one_time_keys,
)
from tests.homeserver.e2ee.helpers import Device, new_key, public_of

USER = "@alice:localhost"


def _refused(call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(MatrixError) as raised:
        call(*args, **kwargs)
    assert raised.value.errcode == "M_INVALID_PARAM"


def test_device_keys_signed_by_their_own_key_are_accepted() -> None:
    device = Device(USER, "DEV1")
    keys, verify_key = parse_device_keys(device.device_keys(), USER, "DEV1")
    assert keys["device_id"] == "DEV1"
    assert verify_key.encode() == device.ed25519


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "@bob:localhost"},
        {"device_id": "DEV2"},
        {"algorithms": "m.olm.v1.curve25519-aes-sha2"},
        {"keys": {"curve25519:DEV1": "abc"}},
        {"keys": {"ed25519:DEV1": "not base64 of 32 bytes"}},
    ],
)
def test_malformed_device_keys_are_refused(change: dict[str, Any]) -> None:
    device = Device(USER, "DEV1")
    _refused(parse_device_keys, device.device_keys(**change), USER, "DEV1")


def test_device_keys_with_a_broken_signature_are_refused() -> None:
    device = Device(USER, "DEV1")
    keys = device.device_keys()
    keys["algorithms"] = ["m.megolm.v1.aes-sha2"]
    _refused(parse_device_keys, keys, USER, "DEV1")
    _refused(parse_device_keys, "not an object", USER, "DEV1")


def test_one_time_keys() -> None:
    device = Device(USER, "DEV1")
    _, verify_key = parse_device_keys(device.device_keys(), USER, "DEV1")
    keys = parse_one_time_keys(
        {**device.one_time_keys(2), "curve25519:PLAIN": "a2V5"},
        USER,
        "DEV1",
        verify_key,
        fallback=False,
    )
    assert sorted(k.algorithm for k in keys) == [
        "curve25519",
        "signed_curve25519",
        "signed_curve25519",
    ]
    _refused(parse_one_time_keys, {"nocolon": "x"}, USER, "DEV1", verify_key, fallback=False)
    _refused(parse_one_time_keys, device.one_time_keys(1), USER, "DEV1", None, fallback=False)
    other = Device(USER, "DEV1")
    _refused(parse_one_time_keys, other.one_time_keys(1), USER, "DEV1", verify_key, fallback=False)
    two = {**device.fallback_key(), **device.fallback_key()}
    _refused(parse_one_time_keys, two, USER, "DEV1", verify_key, fallback=True)


def test_cross_signing_key_shape() -> None:
    key = new_key()
    public = public_of(key)
    body = {"user_id": USER, "usage": ["master"], "keys": {f"ed25519:{public}": public}}
    assert parse_cross_signing_key(body, USER, "master")[0] == public
    _refused(parse_cross_signing_key, body, USER, "self_signing")
    _refused(parse_cross_signing_key, body, "@bob:localhost", "master")
    renamed = {**body, "keys": {"ed25519:other": public}}
    _refused(parse_cross_signing_key, renamed, USER, "master")
    two = {**body, "keys": {f"ed25519:{public}": public, "ed25519:x": "x"}}
    _refused(parse_cross_signing_key, two, USER, "master")
    # A signature is not required on the master key, but must be an object when present.
    signed = sign_json(body, USER, key)
    assert parse_cross_signing_key(signed, USER, "master")[0] == public
    _refused(parse_cross_signing_key, {**body, "signatures": []}, USER, "master")

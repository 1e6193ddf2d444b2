"""Signed file objects: what the sender's device signs and what the receiver checks."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable

import nacl.signing
import pytest

from core.base64 import decode_unpadded, encode_unpadded
from core.canonical_json import encode_canonical
from core.errors import JsonDict
from sdk.crypto.errors import AttachmentHashMismatch, FileSignatureInvalid
from sdk.crypto.protocol.account import OlmAccount
from sdk.crypto.protocol.signed_files import (
    SIGNED_FILE_KEY,
    FileTrust,
    build_signed_file,
    check_signed_file,
    signed_file_claims,
)

ROOM, SENDER, DEVICE = "!room:example.org", "@alice:example.org", "ALICEDEV"
DATA = b"%PDF-1.7 a very important file"


@pytest.fixture(scope="module")
def account() -> OlmAccount:
    return OlmAccount.create(SENDER, DEVICE)


def _claims(account: OlmAccount, data: bytes = DATA) -> JsonDict:
    return build_signed_file(
        data,
        mimetype="application/pdf",
        room_id=ROOM,
        sender=SENDER,
        device_id=DEVICE,
        sign=account.sign,
    )


def _lookup(
    account: OlmAccount, *, verified: bool = False
) -> Callable[[str], tuple[str, bool] | None]:
    return lambda device_id: (account.ed25519, verified) if device_id == DEVICE else None


def test_shape_and_signature_over_canonical_json(account: OlmAccount) -> None:
    claims = _claims(account)
    signed = claims["signed"]
    assert signed == {
        "sha256": encode_unpadded(hashlib.sha256(DATA).digest()),
        "size": len(DATA),
        "mimetype": "application/pdf",
        "room_id": ROOM,
        "sender": SENDER,
    }
    assert claims["device_id"] == DEVICE
    signature = claims["signatures"][SENDER][f"ed25519:{DEVICE}"]
    # Checked with plain PyNaCl, independent of the SDK.
    nacl.signing.VerifyKey(decode_unpadded(account.ed25519)).verify(
        encode_canonical(signed), decode_unpadded(signature)
    )
    assert signed_file_claims({SIGNED_FILE_KEY: claims}) == claims
    assert signed_file_claims({"body": "x"}) is None


def test_valid_file_from_unverified_and_verified_device(account: OlmAccount) -> None:
    claims = _claims(account)
    check = check_signed_file(
        claims, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account)
    )
    assert (check.trust, check.device_id) == (FileTrust.UNVERIFIED_DEVICE, DEVICE)
    check = check_signed_file(
        claims, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account, verified=True)
    )
    assert check.trust is FileTrust.VERIFIED


def test_tampered_file_is_refused(account: OlmAccount) -> None:
    claims = _claims(account)
    with pytest.raises(AttachmentHashMismatch):
        check_signed_file(
            claims, DATA + b"!", room_id=ROOM, sender=SENDER, device_key=_lookup(account)
        )
    with pytest.raises(AttachmentHashMismatch):
        check_signed_file(
            claims, b"X" + DATA[1:], room_id=ROOM, sender=SENDER, device_key=_lookup(account)
        )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("signed", "sha256"), encode_unpadded(hashlib.sha256(b"other").digest())),
        (("signed", "size"), 1),
        (("signed", "mimetype"), "text/plain"),
        (("signed", "room_id"), "!other:example.org"),
        (("device_id",), "OTHERDEV"),
    ],
)
def test_tampered_claims_are_refused(
    account: OlmAccount, path: tuple[str, ...], value: object
) -> None:
    claims = copy.deepcopy(_claims(account))
    target = claims
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(FileSignatureInvalid):
        check_signed_file(claims, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account))


def test_forged_signature_is_refused(account: OlmAccount) -> None:
    forger = OlmAccount.create(SENDER, DEVICE)  # same IDs, different keys
    forged = _claims(forger)
    with pytest.raises(FileSignatureInvalid, match="does not verify"):
        check_signed_file(forged, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account))
    claims = _claims(account)
    claims["signatures"] = {SENDER: {f"ed25519:{DEVICE}": "A" * 86}}
    with pytest.raises(FileSignatureInvalid):
        check_signed_file(claims, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account))
    claims["signatures"] = {}
    with pytest.raises(FileSignatureInvalid, match="no signature"):
        check_signed_file(claims, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account))


def test_wrong_room_sender_or_unknown_device(account: OlmAccount) -> None:
    claims = _claims(account)
    with pytest.raises(FileSignatureInvalid, match="different room"):
        check_signed_file(claims, DATA, room_id="!x:y", sender=SENDER, device_key=_lookup(account))
    with pytest.raises(FileSignatureInvalid, match="different sender"):
        check_signed_file(claims, DATA, room_id=ROOM, sender="@eve:x", device_key=_lookup(account))
    with pytest.raises(FileSignatureInvalid, match="no device"):
        check_signed_file(claims, DATA, room_id=ROOM, sender=SENDER, device_key=lambda _: None)
    with pytest.raises(FileSignatureInvalid, match="malformed"):
        check_signed_file(
            {"signed": {}}, DATA, room_id=ROOM, sender=SENDER, device_key=_lookup(account)
        )

"""The `m.sas.v1` state machine between two in-memory devices."""

from __future__ import annotations

import json

import pytest

from core.base64 import encode_unpadded
from sdk.crypto.protocol.sas import EMOJI, SasState, SasVerification, VerificationMessage

ALICE_KEYS = {"ed25519:ALICE1": "A" * 43}
BOB_KEYS = {"ed25519:BOB1": "B" * 43, "ed25519:" + "M" * 43: "M" * 43}


def _pair() -> tuple[SasVerification, SasVerification]:
    alice = SasVerification(
        "txn1", "@alice:x", "ALICE1", "@bob:x", "BOB1", True, dict(ALICE_KEYS), dict(BOB_KEYS)
    )
    bob = SasVerification(
        "txn1", "@bob:x", "BOB1", "@alice:x", "ALICE1", False, dict(BOB_KEYS), dict(ALICE_KEYS)
    )
    return alice, bob


def _relay(messages: list[VerificationMessage], to: SasVerification) -> list[VerificationMessage]:
    replies: list[VerificationMessage] = []
    for message in messages:
        assert message.content["transaction_id"] == "txn1"
        # What travels is JSON: make sure nothing depends on object identity.
        replies += to.receive(message.event_type, json.loads(json.dumps(message.content)))
    return replies


def _exchange_keys(alice: SasVerification, bob: SasVerification) -> None:
    request = alice.request_message(1_000)
    assert request.content["methods"] == ["m.sas.v1"]
    assert request.content["from_device"] == "ALICE1"
    start = _relay(bob.accept_request(), alice)
    assert start[0].event_type == "m.key.verification.start"
    accept = _relay(start, bob)
    assert accept[0].content["commitment"]
    assert accept[0].content["message_authentication_code"] == "hkdf-hmac-sha256.v2"
    alice_key = _relay(accept, alice)
    bob_key = _relay(alice_key, bob)
    assert _relay(bob_key, alice) == []


def test_emoji_table_is_the_specs() -> None:
    assert len(EMOJI) == 64
    assert EMOJI[0] == ("🐶", "Dog")
    assert EMOJI[63] == ("📌", "Pin")


def test_full_flow_verifies_exactly_the_fixed_keys() -> None:
    alice, bob = _pair()
    _exchange_keys(alice, bob)
    assert alice.state is bob.state is SasState.KEYS_EXCHANGED
    assert alice.emojis() == bob.emojis()
    assert len(alice.emojis()) == 7
    assert alice.decimals() == bob.decimals()
    assert all(1000 <= n <= 9191 for n in alice.decimals())
    alice_mac = alice.confirm()
    assert _relay(alice_mac, bob) == []  # Bob has not confirmed yet
    bob_out = bob.confirm()
    assert [m.event_type for m in bob_out] == ["m.key.verification.mac", "m.key.verification.done"]
    assert bob.verified_keys == ALICE_KEYS
    done = _relay(bob_out, alice)
    assert [m.event_type for m in done] == ["m.key.verification.done"]
    assert alice.verified_keys == BOB_KEYS  # the device key and the master key
    _relay(done, bob)
    assert alice.state is bob.state is SasState.DONE


def test_mismatched_commitment_cancels() -> None:
    alice, bob = _pair()
    start = _relay(bob.accept_request(), alice)
    accept = _relay(start, bob)
    accept[0].content["commitment"] = encode_unpadded(b"\0" * 32)
    bob_key_request = _relay(accept, alice)
    bob_key = _relay(bob_key_request, bob)
    cancel = _relay(bob_key, alice)
    assert alice.state is SasState.CANCELLED
    assert alice.cancel_code == "m.mismatched_commitment"
    assert cancel[0].event_type == "m.key.verification.cancel"
    _relay(cancel, bob)
    assert bob.state is SasState.CANCELLED


def test_a_mac_for_a_different_key_cancels() -> None:
    alice, bob = _pair()
    bob.our_keys = {"ed25519:BOB1": "C" * 43}  # Bob's device claims a key Alice did not fix
    _exchange_keys(alice, bob)
    alice.confirm()
    cancel = _relay(bob.confirm(), alice)
    assert alice.state is SasState.CANCELLED
    assert alice.cancel_code == "m.key_mismatch"
    assert alice.verified_keys == {}
    assert cancel[0].content["code"] == "m.key_mismatch"


def test_mismatch_and_out_of_order_messages() -> None:
    alice, bob = _pair()
    _exchange_keys(alice, bob)
    cancel = bob.mismatch()
    assert cancel[0].content["code"] == "m.mismatched_sas"
    assert bob.state is SasState.CANCELLED
    assert bob.confirm() == []  # nothing more once cancelled
    fresh_alice, fresh_bob = _pair()
    out = fresh_bob.receive("m.key.verification.key", {"transaction_id": "txn1", "key": "x"})
    assert out[0].content["code"] == "m.unexpected_message"
    out = fresh_alice.receive(
        "m.key.verification.ready", {"transaction_id": "txn1", "methods": ["m.qr_code.show.v1"]}
    )
    assert out[0].content["code"] == "m.unknown_method"
    with pytest.raises(ValueError, match="not available"):
        fresh_alice.emojis()


def test_start_without_common_method_cancels() -> None:
    alice, bob = _pair()
    bob.accept_request()
    out = bob.receive(
        "m.key.verification.start",
        {"transaction_id": "txn1", "method": "m.sas.v1", "key_agreement_protocols": ["curve25519"],
         "hashes": ["sha256"], "message_authentication_codes": ["hkdf-hmac-sha256"],
         "short_authentication_string": ["decimal"]},
    )  # fmt: skip
    assert out[0].content["code"] == "m.unknown_method"
    assert bob.state is SasState.CANCELLED
    del alice

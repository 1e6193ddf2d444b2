"""Server key documents: ours are signed and complete; remote ones are checked strictly."""

from __future__ import annotations

import pytest

from core.identifiers import ServerName
from core.signing import generate_signing_key, sign_json, verify_json_signature
from federation.server_keys import (
    MAX_KEY_VALIDITY_MS,
    KeyDocumentError,
    OldVerifyKey,
    server_key_document,
    verify_key_document,
)

NAME = ServerName("origin.test")
NOW = 1_700_000_000_000


def test_our_document_lists_current_and_old_keys_and_is_self_signed() -> None:
    key = generate_signing_key("new")
    old = generate_signing_key("old")
    doc = server_key_document(NAME, key, NOW + 3600_000, [OldVerifyKey(old.verify_key, NOW - 5)])
    assert doc["server_name"] == NAME
    assert doc["valid_until_ts"] == NOW + 3600_000
    assert doc["verify_keys"] == {"ed25519:new": {"key": key.verify_key.encode()}}
    assert doc["old_verify_keys"] == {
        "ed25519:old": {"key": old.verify_key.encode(), "expired_ts": NOW - 5}
    }
    verify_json_signature(doc, NAME, "ed25519:new", key.verify_key)
    assert list(doc["signatures"][NAME]) == ["ed25519:new"]


def test_remote_document_yields_current_and_old_keys() -> None:
    key = generate_signing_key("new")
    old = generate_signing_key("old")
    doc = server_key_document(NAME, key, NOW + 1000, [OldVerifyKey(old.verify_key, NOW - 5)])
    keys = {
        k.key_id: k
        for k in verify_key_document(doc, server_name=NAME, fetched_from=NAME, now_ms=NOW)
    }
    assert keys["ed25519:new"].valid_until_ts == NOW + 1000
    assert keys["ed25519:new"].verify_key.encode() == key.verify_key.encode()
    assert keys["ed25519:old"].valid_until_ts == NOW - 5


def test_validity_is_capped_at_seven_days() -> None:
    key = generate_signing_key("k")
    doc = server_key_document(NAME, key, NOW + 365 * 86400_000)
    (stored,) = verify_key_document(doc, server_name=NAME, fetched_from=NAME, now_ms=NOW)
    assert stored.valid_until_ts == NOW + MAX_KEY_VALIDITY_MS


def _forged_self_signature() -> dict[str, object]:
    key = generate_signing_key("k")
    doc = server_key_document(NAME, key, NOW + 1000)
    forger = generate_signing_key("k")
    return sign_json({k: v for k, v in doc.items() if k != "signatures"}, NAME, forger)


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"server_name": "origin.test", "valid_until_ts": NOW},
        _forged_self_signature(),
        # the key lists itself but the document is not signed at all
        {
            k: v
            for k, v in server_key_document(NAME, generate_signing_key("k"), NOW).items()
            if k != "signatures"
        },
        # a document about another server
        server_key_document("other.test", generate_signing_key("k"), NOW),
        # valid_until_ts missing or not an integer
        server_key_document(NAME, generate_signing_key("k"), True),  # type: ignore[arg-type]
    ],
)
def test_bad_documents_are_refused(document: object) -> None:
    with pytest.raises(KeyDocumentError):
        verify_key_document(document, server_name=NAME, fetched_from=NAME, now_ms=NOW)


def test_every_listed_key_must_sign() -> None:
    a = generate_signing_key("a")
    b = generate_signing_key("b")
    doc = server_key_document(NAME, a, NOW + 1000)
    doc["verify_keys"]["ed25519:b"] = {"key": b.verify_key.encode()}
    doc = sign_json({k: v for k, v in doc.items() if k != "signatures"}, NAME, a)
    with pytest.raises(KeyDocumentError):
        verify_key_document(doc, server_name=NAME, fetched_from=NAME, now_ms=NOW)
    doc = sign_json(doc, NAME, b)
    keys = verify_key_document(doc, server_name=NAME, fetched_from=NAME, now_ms=NOW)
    assert sorted(k.key_id for k in keys) == ["ed25519:a", "ed25519:b"]


def test_unknown_algorithms_are_ignored() -> None:
    key = generate_signing_key("k")
    doc = server_key_document(NAME, key, NOW + 1000)
    unsigned = {k: v for k, v in doc.items() if k != "signatures"}
    unsigned["verify_keys"] = {**unsigned["verify_keys"], "curve9000:x": {"key": "AAAA"}}
    keys = verify_key_document(
        sign_json(unsigned, NAME, key), server_name=NAME, fetched_from=NAME, now_ms=NOW
    )
    assert [k.key_id for k in keys] == ["ed25519:k"]

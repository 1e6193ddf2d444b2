"""Cross-signing over raw HTTP on both backends: `/keys/device_signing/upload` (with UIA when
replacing keys) and `/keys/signatures/upload` (each signature verified before it is stored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from core.signing import SigningKey, sign_json
from tests.conftest import LiveServer
from tests.homeserver.e2ee.helpers import new_client, new_key, public_of

UPLOAD = "/keys/device_signing/upload"
SIGNATURES = "/keys/signatures/upload"


@dataclass
class CrossSigning:
    """A user's three cross-signing keys."""

    user_id: str
    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def generate(cls, user_id: str) -> CrossSigning:
        return cls(user_id, new_key(), new_key(), new_key())

    def key_json(self, usage: str, key: SigningKey) -> dict[str, Any]:
        public = public_of(key)
        body = {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}
        return body if usage == "master" else sign_json(body, self.user_id, self.master)

    def upload_body(self) -> dict[str, Any]:
        return {
            "master_key": self.key_json("master", self.master),
            "self_signing_key": self.key_json("self_signing", self.self_signing),
            "user_signing_key": self.key_json("user_signing", self.user_signing),
        }


async def test_first_upload_needs_no_uia_and_keys_are_queryable(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    keys = CrossSigning.generate(alice.user_id)
    await alice.ok("POST", UPLOAD, keys.upload_body())
    # Repeating the stored keys is idempotent and needs no UIA either.
    await alice.ok("POST", UPLOAD, keys.upload_body())

    own = await alice.query(alice.user_id)
    assert own["master_keys"][alice.user_id] == keys.upload_body()["master_key"]
    assert own["self_signing_keys"][alice.user_id] == keys.upload_body()["self_signing_key"]
    assert own["user_signing_keys"][alice.user_id] == keys.upload_body()["user_signing_key"]
    # Only the owner sees the user-signing key.
    seen_by_bob = await bob.query(alice.user_id)
    assert alice.user_id in seen_by_bob["master_keys"]
    assert alice.user_id in seen_by_bob["self_signing_keys"]
    assert seen_by_bob["user_signing_keys"] == {}


async def test_replacing_keys_requires_password_uia(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    await alice.ok("POST", UPLOAD, CrossSigning.generate(alice.user_id).upload_body())
    replacement = CrossSigning.generate(alice.user_id)
    status, body = await alice.uia("POST", UPLOAD, replacement.upload_body())
    assert status == 200, body
    own = await alice.query(alice.user_id)
    assert own["master_keys"][alice.user_id] == replacement.upload_body()["master_key"]
    # A wrong password leaves the keys as they were.
    third = CrossSigning.generate(alice.user_id)
    status, challenge = await alice.request("POST", UPLOAD, third.upload_body())
    assert status == 401
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": alice.user_id},
        "password": "wrong",
        "session": challenge["session"],
    }
    status, _ = await alice.request("POST", UPLOAD, {**third.upload_body(), "auth": auth})
    assert status == 401
    own = await alice.query(alice.user_id)
    assert own["master_keys"][alice.user_id] == replacement.upload_body()["master_key"]


async def test_invalid_cross_signing_keys_are_refused(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    keys = CrossSigning.generate(alice.user_id)
    # A self-signing key without any master key.
    ssk_only = {"self_signing_key": keys.key_json("self_signing", keys.self_signing)}
    await alice.error("POST", UPLOAD, ssk_only, 400, "M_MISSING_PARAM")
    # Self-signing key signed by some other key than the master key.
    body = keys.upload_body()
    body["self_signing_key"] = sign_json(
        {k: v for k, v in body["self_signing_key"].items() if k != "signatures"},
        alice.user_id,
        SigningKey(public_of(keys.master), new_key().nacl_key),
    )
    await alice.error("POST", UPLOAD, body, 400, "M_INVALID_SIGNATURE")
    # Wrong usage, wrong user.
    body = keys.upload_body()
    body["master_key"]["usage"] = ["self_signing"]
    await alice.error("POST", UPLOAD, body, 400, "M_INVALID_PARAM")
    body = keys.upload_body()
    body["master_key"]["user_id"] = "@mallory:localhost"
    await alice.error("POST", UPLOAD, body, 400, "M_INVALID_PARAM")
    assert (await alice.query(alice.user_id))["master_keys"] == {}


async def test_signatures_upload_verifies_each_signature(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    await alice.upload_device_keys()
    alice_keys = CrossSigning.generate(alice.user_id)
    bob_keys = CrossSigning.generate(bob.user_id)
    await alice.ok("POST", UPLOAD, alice_keys.upload_body())
    await bob.ok("POST", UPLOAD, bob_keys.upload_body())

    # Alice's self-signing key signs her device; her device signs her master key;
    # her user-signing key signs Bob's master key.
    device = sign_json(alice.device.device_keys(), alice.user_id, alice_keys.self_signing)
    master = sign_json(
        alice_keys.key_json("master", alice_keys.master), alice.user_id, alice.device.key
    )
    bob_master = sign_json(
        bob_keys.key_json("master", bob_keys.master), alice.user_id, alice_keys.user_signing
    )
    result = await alice.ok(
        "POST",
        SIGNATURES,
        {
            alice.user_id: {alice.device_id: device, public_of(alice_keys.master): master},
            bob.user_id: {public_of(bob_keys.master): bob_master},
        },
    )
    assert result == {"failures": {}}

    ssk_id = f"ed25519:{public_of(alice_keys.self_signing)}"
    usk_id = f"ed25519:{public_of(alice_keys.user_signing)}"
    seen_by_bob = await bob.query(alice.user_id, bob.user_id)
    device_sigs = seen_by_bob["device_keys"][alice.user_id][alice.device_id]["signatures"]
    assert ssk_id in device_sigs[alice.user_id]
    master_sigs = seen_by_bob["master_keys"][alice.user_id]["signatures"]
    assert f"ed25519:{alice.device_id}" in master_sigs[alice.user_id]
    # Signatures made with Alice's user-signing key are hers alone to see.
    assert alice.user_id not in seen_by_bob["master_keys"][bob.user_id].get("signatures", {})
    seen_by_alice = await alice.query(bob.user_id)
    assert usk_id in seen_by_alice["master_keys"][bob.user_id]["signatures"][alice.user_id]


async def test_forged_signatures_are_refused(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    await alice.upload_device_keys()
    alice_keys = CrossSigning.generate(alice.user_id)
    bob_keys = CrossSigning.generate(bob.user_id)
    await alice.ok("POST", UPLOAD, alice_keys.upload_body())
    await bob.ok("POST", UPLOAD, bob_keys.upload_body())
    # A signature under the self-signing key's ID made by another key.
    impostor = SigningKey(public_of(alice_keys.self_signing), new_key().nacl_key)
    forged_device = sign_json(alice.device.device_keys(), alice.user_id, impostor)
    # A signature on an object that differs from the stored key.
    tampered = alice.device.device_keys(algorithms=["m.megolm.v1.aes-sha2"])
    tampered = sign_json(tampered, alice.user_id, alice_keys.self_signing)
    # Bob's master key "signed" by Alice's self-signing key (only her user-signing key may).
    wrong_signer = sign_json(
        bob_keys.key_json("master", bob_keys.master), alice.user_id, alice_keys.self_signing
    )
    result = await alice.ok(
        "POST",
        SIGNATURES,
        {
            alice.user_id: {alice.device_id: forged_device, "NODEVICE": forged_device},
            bob.user_id: {public_of(bob_keys.master): wrong_signer},
        },
    )
    failures = result["failures"]
    assert failures[alice.user_id][alice.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[alice.user_id]["NODEVICE"]["errcode"] in ("M_NOT_FOUND", "M_INVALID_PARAM")
    assert failures[bob.user_id][public_of(bob_keys.master)]["errcode"] == "M_INVALID_SIGNATURE"

    result = await alice.ok("POST", SIGNATURES, {alice.user_id: {alice.device_id: tampered}})
    assert result["failures"][alice.user_id][alice.device_id]["errcode"] == "M_INVALID_PARAM"

    queried = await alice.query(alice.user_id, bob.user_id)
    device_sigs = queried["device_keys"][alice.user_id][alice.device_id]["signatures"]
    assert list(device_sigs[alice.user_id]) == [f"ed25519:{alice.device_id}"]
    assert alice.user_id not in queried["master_keys"][bob.user_id].get("signatures", {})


async def test_cross_signing_upload_marks_device_list_changed(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room = await alice.ok("POST", "/createRoom", {"invite": [bob.user_id]})
    await bob.ok("POST", f"/rooms/{room['room_id']}/join", {})
    since = (await bob.sync())["next_batch"]
    await alice.ok("POST", UPLOAD, CrossSigning.generate(alice.user_id).upload_body())
    sync = await bob.sync(since=since, timeout_ms=5000)
    assert alice.user_id in sync["device_lists"]["changed"]


async def test_user_signing_signatures_are_reported_to_the_signer_only(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await new_client(http, server.url, "alice")
    bob = await new_client(http, server.url, "bob")
    room = await alice.ok("POST", "/createRoom", {"invite": [bob.user_id]})
    await bob.ok("POST", f"/rooms/{room['room_id']}/join", {})
    alice_keys = CrossSigning.generate(alice.user_id)
    bob_keys = CrossSigning.generate(bob.user_id)
    await alice.ok("POST", UPLOAD, alice_keys.upload_body())
    await bob.ok("POST", UPLOAD, bob_keys.upload_body())
    alice_since = (await alice.sync())["next_batch"]
    bob_since = (await bob.sync())["next_batch"]

    bob_master = sign_json(
        bob_keys.key_json("master", bob_keys.master), alice.user_id, alice_keys.user_signing
    )
    body = {bob.user_id: {public_of(bob_keys.master): bob_master}}
    assert await alice.ok("POST", SIGNATURES, body) == {"failures": {}}
    seen_by_alice = await alice.sync(since=alice_since, timeout_ms=5000)
    assert seen_by_alice["device_lists"]["changed"] == [bob.user_id]
    seen_by_bob = await bob.sync(since=bob_since)
    assert seen_by_bob["device_lists"]["changed"] == []

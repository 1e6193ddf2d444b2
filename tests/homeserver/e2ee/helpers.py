"""Shared pieces of the end-to-end encryption tests: clients over raw HTTP and real key material.

Keys are real Ed25519 keys made with PyNaCl and signed with `core.signing.sign_json`, so the
server checks genuine signatures. Curve25519 keys are random 32-byte strings: the server only
stores and relays them.
"""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import nacl.signing

from core.base64 import encode_unpadded
from core.signing import SigningKey, sign_json
from tests.homeserver.api.helpers import PASSWORD, password_auth, register
from tests.http_client import CLIENT, ApiClient

JsonBody = dict[str, Any]
OLM = "m.olm.v1.curve25519-aes-sha2"
MEGOLM = "m.megolm.v1.aes-sha2"


def random_curve25519() -> str:
    """A random 32-byte public key in unpadded Base64 (the server never uses it)."""
    return encode_unpadded(secrets.token_bytes(32))


def new_key(name: str | None = None) -> SigningKey:
    """A fresh Ed25519 key whose key ID is `ed25519:<name>` (its own public key if None).

    Built directly rather than with `generate_signing_key`: device IDs and Base64 public keys
    are not valid server key versions, but they are the key IDs E2EE signatures use.
    """
    nacl_key = nacl.signing.SigningKey.generate()
    public = encode_unpadded(bytes(nacl_key.verify_key))
    return SigningKey(name if name is not None else public, nacl_key)


def public_of(key: SigningKey) -> str:
    """The unpadded Base64 public key."""
    return encode_unpadded(bytes(key.nacl_key.verify_key))


class Device:
    """A device's key material: its Ed25519 signing key and Curve25519 identity key."""

    def __init__(self, user_id: str, device_id: str) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self.key = new_key(device_id)
        self.curve25519 = random_curve25519()
        self._counter = 0

    @property
    def ed25519(self) -> str:
        """The device's public Ed25519 key."""
        return public_of(self.key)

    def device_keys(self, **changes: Any) -> JsonBody:
        """Signed `device_keys` (fields in `changes` are set before signing)."""
        keys = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": [OLM, MEGOLM],
            "keys": {
                f"curve25519:{self.device_id}": self.curve25519,
                f"ed25519:{self.device_id}": self.ed25519,
            },
            **changes,
        }
        return sign_json(keys, self.user_id, self.key)

    def one_time_keys(self, count: int) -> JsonBody:
        """`count` new signed_curve25519 one-time keys, signed by the device."""
        keys: JsonBody = {}
        for _ in range(count):
            self._counter += 1
            name = f"signed_curve25519:AAAA{self._counter:04d}"
            keys[name] = sign_json({"key": random_curve25519()}, self.user_id, self.key)
        return keys

    def fallback_key(self) -> JsonBody:
        """A new signed fallback key."""
        self._counter += 1
        body = {"key": random_curve25519(), "fallback": True}
        return {f"signed_curve25519:FB{self._counter:04d}": sign_json(body, self.user_id, self.key)}


class Client(ApiClient):
    """A logged-in device with real key material."""

    def __init__(self, http: aiohttp.ClientSession, base: str, login: JsonBody) -> None:
        super().__init__(
            http, base, login["user_id"], login["access_token"], device_id=login["device_id"]
        )
        self.device = Device(self.user_id, self.device_id)

    async def error(
        self, method: str, path: str, body: object, status: int, errcode: str, **query: str
    ) -> JsonBody:
        """Call and require the given error."""
        got, result = await self.request(method, path, body, **query)
        assert (got, result.get("errcode")) == (status, errcode), (got, result)
        error: JsonBody = result
        return error

    async def upload(self, **body: Any) -> JsonBody:
        """`POST /keys/upload` with `body`; requires 200."""
        result: JsonBody = await self.ok("POST", "/keys/upload", body)
        return result

    async def upload_device_keys(self, one_time: int = 0, fallback: bool = False) -> JsonBody:
        """Upload this device's keys, `one_time` one-time keys and maybe a fallback key."""
        body: JsonBody = {"device_keys": self.device.device_keys()}
        if one_time:
            body["one_time_keys"] = self.device.one_time_keys(one_time)
        if fallback:
            body["fallback_keys"] = self.device.fallback_key()
        return await self.upload(**body)

    async def query(self, *user_ids: str) -> JsonBody:
        """`POST /keys/query` for all devices of `user_ids`."""
        body: JsonBody = {"device_keys": {u: [] for u in user_ids}}
        result: JsonBody = await self.ok("POST", "/keys/query", body)
        return result

    async def uia(self, method: str, path: str, body: JsonBody) -> tuple[int, JsonBody]:
        """A request guarded by `m.login.password` UIA: expect the 401, then answer it."""
        status, challenge = await self.request(method, path, body)
        assert status == 401, (status, challenge)
        assert challenge["flows"] == [{"stages": ["m.login.password"]}]
        auth = password_auth(self.user_id, challenge["session"], PASSWORD)
        return await self.request(method, path, {**body, "auth": auth})


async def new_client(http: aiohttp.ClientSession, base: str, name: str) -> Client:
    """Register `name` and return its first device."""
    return Client(http, base, await register(http, base, name))


async def second_device(http: aiohttp.ClientSession, client: Client, device_id: str) -> Client:
    """Log `client`'s user in again as a new device."""
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": client.user_id},
        "password": PASSWORD,
        "device_id": device_id,
    }
    async with http.post(f"{client.base}{CLIENT}/login", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return Client(http, client.base, await resp.json())


async def shared_room(*clients: Client) -> str:
    """A room created by the first client and joined by the others."""
    creator, *others = clients
    room_id = await creator.create_room(preset="private_chat")
    for other in others:
        await creator.invite(room_id, other.user_id)
        await other.join(room_id)
    return room_id

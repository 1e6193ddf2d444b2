"""Device keys (spec: Client-Server API "End-to-End Encryption", key management API).

`/keys/upload` validates everything before storing anything; `/keys/query` returns device
keys and cross-signing keys with the uploaded signatures the requester may see merged in;
`/keys/claim` hands each one-time key out once, else the fallback key; `/keys/changes` lists
users whose keys changed between two sync tokens. Only local users are served: keys of users
on other servers are reported under `failures` (federation is not wired yet).
"""

from __future__ import annotations

import copy
from typing import Any, Final

from core.errors import M_INVALID_PARAM, JsonDict, MatrixError
from core.identifiers import DeviceId, UserId, parse_device_id, parse_user_id, server_name_of
from homeserver.caching import CacheRegistry, LruCache
from homeserver.services.common.requester import Requester
from homeserver.services.common.stream_token import StreamToken
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_validation import (
    SIGNED_CURVE25519,
    ed25519_key,
    invalid,
    parse_device_keys,
    parse_one_time_keys,
)
from homeserver.storage.e2ee.cross_signing import (
    MASTER,
    SELF_SIGNING,
    USER_SIGNING,
    CrossSigningStore,
)
from homeserver.storage.e2ee.keys import E2eKeyStore, KeyConflict

_UNREACHABLE: JsonDict = {"status": 503, "message": "Federation is not available"}


# Bounds the key status cache (one entry per user with a syncing device).
MAX_CACHED_USERS = 100_000
KEY_COUNTS_CACHE: Final = "e2e_key_counts"

# One device's one-time key counts per algorithm and its unused fallback key algorithms.
_KeyStatus = tuple[dict[str, int], list[str]]


class E2eKeysService:
    """Uploads, queries and claims of device keys; key counts for `/sync`."""

    def __init__(
        self,
        *,
        server_name: str,
        store: E2eKeyStore,
        cross_signing: CrossSigningStore,
        device_lists: DeviceListService,
        caches: CacheRegistry,
    ) -> None:
        self._server_name = server_name
        self._store = store
        self._cross_signing = cross_signing
        self._device_lists = device_lists
        # Every /sync reports these; they change only through this service (upload, claim)
        # or when the user's devices are removed (`forget_user`). Keyed by user ID, so one
        # invalidation covers all of a user's devices; each value is replaced, never mutated.
        self._caches = caches
        self._counts: LruCache[UserId, dict[DeviceId, _KeyStatus]] = caches.lru(
            KEY_COUNTS_CACHE, MAX_CACHED_USERS
        )

    async def upload(self, requester: Requester, body: JsonDict) -> JsonDict:
        """`POST /keys/upload`: validate, store atomically, return `one_time_key_counts`."""
        user_id, device_id = requester.user_id, requester.device_id
        device_keys = None
        verify_key = None
        if body.get("device_keys") is not None:
            device_keys, verify_key = parse_device_keys(body["device_keys"], user_id, device_id)
        elif "one_time_keys" in body or "fallback_keys" in body:
            stored = await self._store.get_device_keys(user_id, device_id)
            if stored is not None:
                verify_key = ed25519_key(stored.get("keys", {}).get(f"ed25519:{device_id}"))
        otks = parse_one_time_keys(
            body.get("one_time_keys"), user_id, device_id, verify_key, fallback=False
        )
        fallbacks = parse_one_time_keys(
            body.get("fallback_keys"), user_id, device_id, verify_key, fallback=True
        )
        try:
            self._caches.invalidate(KEY_COUNTS_CACHE, user_id)
            changed = await self._store.upload(user_id, device_id, device_keys, otks, fallbacks)
            self._caches.invalidate(KEY_COUNTS_CACHE, user_id)
        except KeyConflict as exc:
            raise invalid(str(exc)) from exc
        if changed:
            await self._device_lists.notify_changed(user_id)
        return {"one_time_key_counts": await self.one_time_key_counts(user_id, device_id)}

    async def one_time_key_counts(self, user_id: UserId, device_id: DeviceId) -> dict[str, int]:
        """Unclaimed one-time keys per algorithm; `signed_curve25519` is always present."""
        return dict((await self._key_status(user_id, device_id))[0])

    async def unused_fallback_key_types(self, user_id: UserId, device_id: DeviceId) -> list[str]:
        """Algorithms with a fallback key not yet handed out."""
        return list((await self._key_status(user_id, device_id))[1])

    async def forget_user(self, user_id: UserId) -> None:
        """Drop cached key counts of a user whose devices changed."""
        self._caches.invalidate(KEY_COUNTS_CACHE, user_id)

    async def _key_status(self, user_id: UserId, device_id: DeviceId) -> _KeyStatus:
        devices = self._counts.get(user_id) or {}
        cached = devices.get(device_id)
        if cached is not None:
            return cached
        counts = await self._store.one_time_key_counts(user_id, device_id)
        fallback = await self._store.unused_fallback_algorithms(user_id, device_id)
        status = ({SIGNED_CURVE25519: 0, **counts}, fallback)
        current = self._counts.get(user_id) or {}
        self._counts.put(user_id, {**current, device_id: status})
        return status

    async def query(self, requester: Requester, body: JsonDict) -> JsonDict:
        """`POST /keys/query`: device and cross-signing keys of the requested users."""
        wanted = body.get("device_keys")
        if not isinstance(wanted, dict):
            raise MatrixError(M_INVALID_PARAM, "device_keys must be an object")
        result: JsonDict = {
            "device_keys": {},
            "master_keys": {},
            "self_signing_keys": {},
            "user_signing_keys": {},
            "failures": {},
        }
        for user_id, device_ids in wanted.items():
            if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
                raise invalid("device_keys values must be lists of device IDs")
            user = _user(user_id)
            server = server_name_of(user)
            if server != self._server_name:
                result["failures"][server] = _UNREACHABLE
                continue
            await self._query_user(requester.user_id, user, device_ids or None, result)
        return result

    async def _query_user(
        self, viewer: UserId, user_id: UserId, device_ids: list[str] | None, result: JsonDict
    ) -> None:
        # `device_ids` is the client's filter: a string that is no device ID matches nothing.
        signatures = await self._cross_signing.signatures_on(user_id, viewer)
        devices: JsonDict = {}
        for row in await self._store.device_keys_of(user_id, device_ids):
            keys = _with_signatures(row.keys, signatures.get(row.device_id, {}))
            unsigned = dict(keys.get("unsigned") or {})
            unsigned["device_display_name"] = row.display_name
            keys["unsigned"] = unsigned
            devices[row.device_id] = keys
        result["device_keys"][user_id] = devices
        cross = await self._cross_signing.get_keys(user_id)
        if MASTER in cross:
            master = cross[MASTER]
            merged = _with_signatures(master.key_json, signatures.get(master.public_key, {}))
            result["master_keys"][user_id] = merged
        if SELF_SIGNING in cross:
            result["self_signing_keys"][user_id] = cross[SELF_SIGNING].key_json
        if USER_SIGNING in cross and user_id == viewer:
            result["user_signing_keys"][user_id] = cross[USER_SIGNING].key_json

    async def claim(self, requester: Requester, body: JsonDict) -> JsonDict:
        """`POST /keys/claim`: one key per requested device, one-time first, then fallback."""
        wanted = body.get("one_time_keys")
        if not isinstance(wanted, dict):
            raise MatrixError(M_INVALID_PARAM, "one_time_keys must be an object")
        claimed: JsonDict = {}
        failures: JsonDict = {}
        for user_id, devices in wanted.items():
            if not isinstance(devices, dict) or not all(
                isinstance(a, str) for a in devices.values()
            ):
                raise invalid("one_time_keys values must map device IDs to algorithms")
            user = _user(user_id)
            server = server_name_of(user)
            if server != self._server_name:
                failures[server] = _UNREACHABLE
                continue
            for device_id, algorithm in devices.items():
                device = _device_or_none(device_id)
                if device is None:
                    continue  # names no device, so it has no key to claim
                key = await self._store.claim(user, device, algorithm)
                self._caches.invalidate(KEY_COUNTS_CACHE, user)
                if key is not None:
                    claimed.setdefault(user, {})[device] = {key.name: key.value}
        return {"one_time_keys": claimed, "failures": failures}

    async def changes(self, requester: Requester, from_token: str, to_token: str) -> JsonDict:
        """`GET /keys/changes`: users whose keys changed between two sync tokens."""
        since, upto = StreamToken.parse(from_token), StreamToken.parse(to_token)
        changed, left = await self._device_lists.changes(requester.user_id, since, upto)
        return {"changed": changed, "left": left}


def _user(user_id: str) -> UserId:
    """A user ID a request names, or `M_INVALID_PARAM`."""
    try:
        return parse_user_id(user_id)
    except ValueError as exc:
        raise invalid(f"Invalid user ID {user_id!r}") from exc


def _device_or_none(device_id: str) -> DeviceId | None:
    """A device ID a request names, or None when it is malformed (and so names no device)."""
    try:
        return parse_device_id(device_id)
    except ValueError:
        return None


def _with_signatures(key: JsonDict, extra: dict[UserId, dict[str, str]]) -> dict[str, Any]:
    """A copy of a signed key object with the uploaded signatures `extra` added."""
    merged = copy.deepcopy(key)
    if extra:
        signatures: dict[str, dict[str, str]] = merged.setdefault("signatures", {})
        for signer, by_key in extra.items():
            signatures.setdefault(signer, {}).update(by_key)
    return merged

"""Device keys (spec: Client-Server API "End-to-End Encryption", key management API).

`/keys/upload` validates everything before storing anything; `/keys/query` returns device
keys and cross-signing keys with the uploaded signatures the requester may see merged in;
`/keys/claim` hands each one-time key out once, else the fallback key; `/keys/changes` lists
users whose keys changed between two sync tokens.

Users of other servers are asked through `RemoteKeys`, one request per server, all servers at
once, each within the request's `timeout` (10 s by default): a server that fails or does not
answer in time is listed under `failures`, and its users are missing from the answer. Without
federation every other server is such a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from core.errors import M_INVALID_PARAM, JsonDict, MatrixError
from core.identifiers import (
    DeviceId,
    ServerName,
    UserId,
    parse_device_id,
    parse_user_id,
    server_name_of,
)
from federation.errors import FederationError
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
from homeserver.services.e2ee.remote_keys import RemoteKeyAnswer, RemoteKeys
from homeserver.storage.e2ee.cross_signing import (
    MASTER,
    SELF_SIGNING,
    USER_SIGNING,
    CrossSigningStore,
    merge_signatures,
)
from homeserver.storage.e2ee.keys import E2eKeyStore, KeyConflict

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_W = TypeVar("_W")

DEFAULT_TIMEOUT_MS: Final = 10_000
MAX_TIMEOUT_MS: Final = 60_000


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
        remote: RemoteKeys | None = None,
    ) -> None:
        self._server_name = server_name
        self._remote = remote
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
        timeout_s = _timeout_s(body)
        remote: dict[ServerName, dict[UserId, list[str]]] = {}
        for user_id, device_ids in wanted.items():
            if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
                raise invalid("device_keys values must be lists of device IDs")
            user = _user(user_id)
            server = server_name_of(user)
            if server != self._server_name:
                remote.setdefault(server, {})[user] = device_ids
                continue
            await self.local_keys(requester.user_id, user, device_ids or None, result)
        answers = await self._each_server(remote, self._query_remote, timeout_s, result)
        for answer in answers:
            await self._merge(requester.user_id, answer, result)
        return result

    async def _query_remote(
        self, server: ServerName, users: dict[UserId, list[str]]
    ) -> RemoteKeyAnswer:
        if self._remote is None:
            raise FederationError(server, "federation is off", permanent=True)
        return await self._remote.query(server, users)

    async def _merge(self, viewer: UserId, answer: RemoteKeyAnswer, result: JsonDict) -> None:
        """Add one server's answer, with the viewer's own signatures on their master keys."""
        result["device_keys"].update(answer.device_keys)
        result["self_signing_keys"].update(answer.self_signing_keys)
        for user_id, master in answer.master_keys.items():
            signatures = await self._cross_signing.signatures_on(user_id, viewer)
            public = next(iter(master.get("keys", {}).values()), None)
            extra = signatures.get(public, {}) if isinstance(public, str) else {}
            result["master_keys"][user_id] = merge_signatures(master, extra)

    async def _each_server(
        self,
        wanted: dict[ServerName, _W],
        ask: Callable[[ServerName, _W], Awaitable[_T]],
        timeout_s: float,
        result: JsonDict,
    ) -> list[_T]:
        """`ask` every server at once, each within `timeout_s`; failures go to `result`."""
        servers = sorted(wanted)
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(ask(server, wanted[server]), timeout_s) for server in servers),
            return_exceptions=True,
        )
        answers: list[_T] = []
        for server, outcome in zip(servers, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                result["failures"][server] = _failure(server, outcome)
            else:
                answers.append(outcome)
        return answers

    async def local_keys(
        self,
        viewer: UserId | None,
        user_id: UserId,
        device_ids: list[str] | None,
        result: JsonDict,
    ) -> None:
        """Add a local user's device and cross-signing keys to a `/keys/query`-shaped `result`.

        Args:
            viewer: The local user asking (their own signatures are merged in, and they see
                their own user-signing key); None for another server, which sees only the
                signatures the user made.
            user_id: The local user whose keys are read.
            device_ids: The devices asked for (None: all). A string that is no device ID
                matches nothing.
            result: The answer being built (`device_keys`, `master_keys`,
                `self_signing_keys` and, for a viewer, `user_signing_keys`).
        """
        signatures = await self._cross_signing.signatures_on(user_id, viewer or user_id)
        devices: JsonDict = {}
        for row in await self._store.device_keys_of(user_id, device_ids):
            keys = merge_signatures(row.keys, signatures.get(row.device_id, {}))
            unsigned = dict(keys.get("unsigned") or {})
            unsigned["device_display_name"] = row.display_name
            keys["unsigned"] = unsigned
            devices[row.device_id] = keys
        result["device_keys"][user_id] = devices
        cross = await self._cross_signing.get_keys(user_id)
        if MASTER in cross:
            master = cross[MASTER]
            merged = merge_signatures(master.key_json, signatures.get(master.public_key, {}))
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
        timeout_s = _timeout_s(body)
        result: JsonDict = {"one_time_keys": {}, "failures": {}}
        remote: dict[ServerName, dict[UserId, dict[str, str]]] = {}
        for user_id, devices in wanted.items():
            if not isinstance(devices, dict) or not all(
                isinstance(a, str) for a in devices.values()
            ):
                raise invalid("one_time_keys values must map device IDs to algorithms")
            user = _user(user_id)
            server = server_name_of(user)
            if server != self._server_name:
                remote.setdefault(server, {})[user] = devices
                continue
            claimed = await self.claim_local(user, devices)
            if claimed:
                result["one_time_keys"][user] = claimed
        answers = await self._each_server(remote, self._claim_remote, timeout_s, result)
        for answer in answers:
            result["one_time_keys"].update(answer)
        return result

    async def _claim_remote(
        self, server: ServerName, users: dict[UserId, dict[str, str]]
    ) -> dict[UserId, JsonDict]:
        if self._remote is None:
            raise FederationError(server, "federation is off", permanent=True)
        return await self._remote.claim(server, users)

    async def claim_local(self, user: UserId, devices: dict[str, str]) -> JsonDict:
        """One key per device of a local user (device ID → algorithm): `{device: {name: key}}`
        for the devices that had one."""
        claimed: JsonDict = {}
        for device_id, algorithm in devices.items():
            device = _device_or_none(device_id)
            if device is None:
                continue  # names no device, so it has no key to claim
            key = await self._store.claim(user, device, algorithm)
            self._caches.invalidate(KEY_COUNTS_CACHE, user)
            if key is not None:
                claimed[device] = {key.name: key.value}
        return claimed

    async def changes(self, requester: Requester, from_token: str, to_token: str) -> JsonDict:
        """`GET /keys/changes`: users whose keys changed between two sync tokens."""
        since, upto = StreamToken.parse(from_token), StreamToken.parse(to_token)
        changed, left = await self._device_lists.changes(requester.user_id, since, upto)
        return {"changed": changed, "left": left}


def _timeout_s(body: JsonDict) -> float:
    """The request's `timeout` for remote servers, in seconds (10 s when absent)."""
    value = body.get("timeout", DEFAULT_TIMEOUT_MS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid("timeout must be a non-negative integer")
    return min(value, MAX_TIMEOUT_MS) / 1000


def _failure(server: ServerName, exc: BaseException) -> JsonDict:
    """The `failures` entry of a server that could not be asked in time."""
    if isinstance(exc, TimeoutError):
        return {"status": 504, "message": "Timed out waiting for the server"}
    if isinstance(exc, FederationError):
        status = exc.status if exc.status is not None else 503
        return {"status": status, "message": exc.message}
    logger.warning("remote key request failed server=%s error=%r", server, exc)
    return {"status": 503, "message": "The server could not be reached"}


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

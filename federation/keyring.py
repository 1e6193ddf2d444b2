"""The keyring: remote servers' verify keys, fetched, checked and cached (Server-Server API
"Retrieving server keys"), and verification of JSON signed by a server.

Lookup order for `(server, key_id)` needed at time `at_ts`: our own keys; the `KeyStore` cache
when the key there is valid at `at_ts`; the origin's `GET /_matrix/key/v2/server`; then each
trusted notary's `POST /_matrix/key/v2/query`.

Invariants:
- A key document is accepted only if it passes `verify_key_document` (each listed key signed
  it, it names the server asked about); a notary's answer must in addition carry a valid
  signature of the notary (with a pinned key, or one fetched from the notary itself).
- A key is used only for signatures made while it was valid: its `valid_until_ts` (capped at
  7 days after receipt, or `expired_ts` for old keys) must be at least `at_ts`, the rule of
  every room version from 5 on.
- Concurrent lookups of one server share one fetch; a server whose fetch failed is not asked
  again for `failure_cooldown_s`.
- Keys read from the `KeyStore` are kept in memory (at most `CACHE_SIZE`), so the signatures
  of every inbound request and PDU are checked without a database read; a kept key is used
  only while it is valid at the time asked (else the store is read again), and keys this
  keyring stores replace the kept copies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import SignatureError, VerifyKey, signed_key_ids, verify_json_signature
from federation.errors import FederationError
from federation.ports import Clock, KeyStore, StoredServerKey
from federation.server_keys import KeyDocumentError, verify_key_document

__all__ = ["KeyLookupError", "KeyServerClient", "Keyring", "Notary"]

logger = logging.getLogger(__name__)

_SERVER_PATH: Final = "/_matrix/key/v2/server"
_QUERY_PATH: Final = "/_matrix/key/v2/query"
CACHE_SIZE: Final = 4096


class KeyLookupError(SignatureError):
    """No key valid at the needed time could be found for a signature."""


@dataclass(frozen=True, slots=True)
class Notary:
    """A trusted key server (`trusted_key_servers`).

    Attributes:
        server_name: The notary's server name.
        verify_keys: Its pinned keys by key ID; when empty, its keys are fetched from it
            directly (trusting its self-signed document).
    """

    server_name: ServerName
    verify_keys: Mapping[str, VerifyKey] = field(default_factory=dict)


class KeyServerClient(Protocol):
    """The part of `FederationClient` the keyring uses."""

    async def get_json(self, destination: str, path: str) -> JsonDict:
        """GET a JSON object from a server."""
        ...

    async def post_json(self, destination: str, path: str, content: JsonDict) -> JsonDict:
        """POST a JSON object to a server."""
        ...


class Keyring:
    """Finds the verify keys of remote servers and checks their signatures."""

    def __init__(
        self,
        *,
        store: KeyStore,
        client: KeyServerClient,
        clock: Clock,
        local_keys: Sequence[StoredServerKey] = (),
        notaries: Sequence[Notary] = (),
        failure_cooldown_s: float = 10.0,
    ) -> None:
        """Build a keyring.

        Args:
            store: The durable key cache.
            client: Signed requests to other servers.
            clock: Time of receipt and cooldowns.
            local_keys: Our own keys (current and old), answered without any lookup.
            notaries: Trusted key servers, asked in order after the origin.
            failure_cooldown_s: How long a server whose key fetch failed is left alone.
        """
        self._store = store
        self._client = client
        self._clock = clock
        self._local = {(k.server_name, k.key_id): k for k in local_keys}
        self._notaries = tuple(notaries)
        self._cooldown_s = failure_cooldown_s
        self._inflight: dict[tuple[str, ServerName], asyncio.Future[None]] = {}
        self._failed_at: dict[tuple[str, ServerName], float] = {}
        self._kept: dict[tuple[ServerName, str], StoredServerKey] = {}

    async def verify_json_for_server(
        self, server_name: ServerName, obj: JsonDict, at_ts: int
    ) -> None:
        """Check that `server_name` signed `obj` with a key valid at `at_ts`.

        Every signature of the server whose key can be found must verify, and at least one
        must; signatures with keys nobody can supply are skipped.

        Raises:
            SignatureError: If there is no verifiable signature or one is bad.
        """
        key_ids = signed_key_ids(obj, server_name)
        if not key_ids:
            raise SignatureError(f"not signed by {server_name}")
        verified = 0
        missing: KeyLookupError | None = None
        for key_id in key_ids:
            try:
                key = await self.get_verify_key(server_name, key_id, at_ts)
            except KeyLookupError as exc:
                missing = exc
                continue
            verify_json_signature(obj, server_name, key_id, key.verify_key)
            verified += 1
        if not verified:
            raise missing or KeyLookupError(f"no usable key of {server_name}")

    async def get_verify_key(
        self, server_name: ServerName, key_id: str, at_ts: int
    ) -> StoredServerKey:
        """The key `key_id` of `server_name`, valid at `at_ts`.

        Raises:
            KeyLookupError: If neither the cache, the origin nor a notary has it valid then.
        """
        local = self._local.get((server_name, key_id))
        if local is not None:
            return local
        key = await self._stored(server_name, key_id, at_ts)
        if key is not None:
            return key
        await self._once(("origin", server_name), lambda: self._fetch_from_origin(server_name))
        key = await self._stored(server_name, key_id, at_ts)
        for notary in self._notaries:
            if key is not None:
                break
            await self._once(
                (f"notary:{notary.server_name}", server_name),
                lambda n=notary: self._fetch_from_notary(n, server_name, key_id, at_ts),
            )
            key = await self._stored(server_name, key_id, at_ts)
        if key is None:
            raise KeyLookupError(f"no key {key_id} of {server_name} valid at {at_ts}")
        return key

    async def _stored(
        self, server_name: ServerName, key_id: str, at_ts: int
    ) -> StoredServerKey | None:
        kept = self._kept.get((server_name, key_id))
        if kept is not None and kept.valid_until_ts >= at_ts:
            return kept
        found = (await self._store.get_server_keys(server_name, [key_id])).get(key_id)
        if found is not None:
            self._keep(found)
        return found if found is not None and found.valid_until_ts >= at_ts else None

    def _keep(self, key: StoredServerKey) -> None:
        self._kept.pop((key.server_name, key.key_id), None)
        if len(self._kept) >= CACHE_SIZE:
            del self._kept[next(iter(self._kept))]  # the longest kept
        self._kept[(key.server_name, key.key_id)] = key

    async def _put(self, keys: Sequence[StoredServerKey]) -> None:
        await self._store.put_server_keys(keys)
        for key in keys:
            self._kept.pop((key.server_name, key.key_id), None)  # read back as stored

    async def _once(self, task: tuple[str, ServerName], fetch: _Fetch) -> None:
        """Run `fetch` unless the same one is running (then wait for it) or recently failed."""
        running = self._inflight.get(task)
        if running is not None:
            await asyncio.shield(running)
            return
        failed_at = self._failed_at.get(task)
        if failed_at is not None and self._clock.monotonic() - failed_at < self._cooldown_s:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[task] = future
        try:
            ok = await fetch()
            if ok:
                self._failed_at.pop(task, None)
            else:
                self._failed_at[task] = self._clock.monotonic()
        finally:
            del self._inflight[task]
            future.set_result(None)

    async def _fetch_from_origin(self, server_name: ServerName) -> bool:
        try:
            document = await self._client.get_json(server_name, _SERVER_PATH)
            keys = verify_key_document(
                document,
                server_name=server_name,
                fetched_from=server_name,
                now_ms=self._clock.time_ms(),
            )
        except (FederationError, KeyDocumentError) as exc:
            logger.warning("server key fetch failed server=%s error=%s", server_name, exc)
            return False
        await self._put(keys)
        return True

    async def _fetch_from_notary(
        self, notary: Notary, server_name: ServerName, key_id: str, at_ts: int
    ) -> bool:
        query = {"server_keys": {server_name: {key_id: {"minimum_valid_until_ts": at_ts}}}}
        try:
            response = await self._client.post_json(notary.server_name, _QUERY_PATH, query)
        except FederationError as exc:
            logger.warning(
                "notary query failed notary=%s server=%s error=%s",
                notary.server_name,
                server_name,
                exc,
            )
            return False
        documents = response.get("server_keys")
        if not isinstance(documents, list):
            logger.warning("notary answered without server_keys notary=%s", notary.server_name)
            return False
        accepted: list[StoredServerKey] = []
        for document in documents:
            if not isinstance(document, dict) or document.get("server_name") != server_name:
                continue  # answers about servers we did not ask about are ignored
            try:
                await self._check_notary_signature(notary, document)
                accepted.extend(
                    verify_key_document(
                        document,
                        server_name=server_name,
                        fetched_from=notary.server_name,
                        now_ms=self._clock.time_ms(),
                    )
                )
            except SignatureError as exc:
                logger.warning(
                    "notary key document refused notary=%s server=%s error=%s",
                    notary.server_name,
                    server_name,
                    exc,
                )
        if accepted:
            await self._put(accepted)
        return bool(accepted)

    async def _check_notary_signature(self, notary: Notary, document: JsonDict) -> None:
        """Require a valid signature of the notary on a document it relays.

        Raises:
            SignatureError: If the notary did not validly sign it.
        """
        if notary.verify_keys:
            for key_id in signed_key_ids(document, notary.server_name):
                pinned = notary.verify_keys.get(key_id)
                if pinned is not None:
                    verify_json_signature(document, notary.server_name, key_id, pinned)
                    return
            raise SignatureError(f"not signed by a pinned key of notary {notary.server_name}")
        now = self._clock.time_ms()
        key_ids = signed_key_ids(document, notary.server_name)
        if not key_ids:
            raise SignatureError(f"not signed by notary {notary.server_name}")
        for key_id in key_ids:
            key = await self._stored(notary.server_name, key_id, now)
            if key is None:
                await self._once(
                    ("origin", notary.server_name),
                    lambda: self._fetch_from_origin(notary.server_name),
                )
                key = await self._stored(notary.server_name, key_id, now)
            if key is not None:
                verify_json_signature(document, notary.server_name, key_id, key.verify_key)
                return
        raise KeyLookupError(f"no key of notary {notary.server_name} to check its signature")


class _Fetch(Protocol):
    async def __call__(self) -> bool: ...

"""Our server key document and the notary (Server-Server API "Publishing Keys", "Querying
Keys Through Another Server").

`own_document` is what `GET /_matrix/key/v2/server` serves: our current key, the keys we
retired (`old_verify_keys` with their `expired_ts`), valid for `validity_ms`, signed by the
current key. As a notary, `query` answers for any server: for us, our own document; for
another server, its latest key document as that server signed it, fetched again when the
stored one is not valid until the asker's `minimum_valid_until_ts`, with our signature added.

Invariants: a relayed document has passed `verify_key_document` (each listed key signed it,
it names the server asked about) before it is stored or served; when the server cannot be
reached, the stored document is served as is (the asker checks `valid_until_ts`); a server
that cannot be reached and has nothing stored is left out of the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import SigningKey, sign_json
from federation.errors import FederationError
from federation.ports import StoredServerKey
from federation.server_keys import (
    KeyDocumentError,
    OldVerifyKey,
    server_key_document,
    verify_key_document,
)
from homeserver.clock import Clock
from homeserver.storage.federation.server_keys import ServerKeyStore, StoredKeyDocument

__all__ = ["KeyFetcher", "ServerKeysService"]

logger = logging.getLogger(__name__)

DEFAULT_VALIDITY_MS: Final = 24 * 3600 * 1000
_SERVER_PATH: Final = "/_matrix/key/v2/server"


class KeyFetcher(Protocol):
    """GETs a JSON object from another server (the federation client)."""

    async def get_json(self, destination: str, path: str) -> JsonDict:
        """The JSON object `destination` serves at `path`."""
        ...


class ServerKeysService:
    """Publishes our keys and relays other servers' keys."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        signing_key: SigningKey,
        old_keys: Sequence[OldVerifyKey],
        clock: Clock,
        store: ServerKeyStore,
        fetcher: KeyFetcher | None,
        validity_ms: int = DEFAULT_VALIDITY_MS,
    ) -> None:
        """Build the service.

        Args:
            server_name: Our server name.
            signing_key: Our current key.
            old_keys: Keys we retired, still published.
            clock: Time for `valid_until_ts`.
            store: Remote key documents and keys.
            fetcher: Requests to other servers; None when federation is off (the notary then
                answers only from what is stored).
            validity_ms: How long others may cache our current key.
        """
        self._server_name = server_name
        self._key = signing_key
        self._old_keys = tuple(old_keys)
        self._clock = clock
        self._store = store
        self._fetcher = fetcher
        self._validity_ms = validity_ms

    def own_document(self) -> JsonDict:
        """Our signed key document, valid for `validity_ms` from now."""
        return server_key_document(
            self._server_name,
            self._key,
            self._clock.time_ms() + self._validity_ms,
            self._old_keys,
        )

    def local_keys(self) -> list[StoredServerKey]:
        """Our keys as the keyring sees them: current ones open-ended, old ones until expiry."""
        current = StoredServerKey(
            self._server_name, self._key.verify_key, 2**63 - 1, self._server_name
        )
        old = [
            StoredServerKey(self._server_name, k.verify_key, k.expired_ts, self._server_name)
            for k in self._old_keys
        ]
        return [current, *old]

    async def query(self, criteria: Mapping[ServerName, int | None]) -> JsonDict:
        """The notary answer for `{server_name: minimum_valid_until_ts or None}`."""
        now = self._clock.time_ms()
        documents: list[JsonDict] = []
        for server_name, minimum in criteria.items():
            document = await self._document_for(server_name, now if minimum is None else minimum)
            if document is not None:
                documents.append(document)
        return {"server_keys": documents}

    async def _document_for(self, server_name: ServerName, minimum_ts: int) -> JsonDict | None:
        if server_name == self._server_name:
            return self.own_document()
        stored = await self._store.get_key_document(server_name)
        if stored is None or stored.valid_until_ts < minimum_ts:
            stored = await self._fetch(server_name) or stored
        if stored is None:
            return None
        return sign_json(stored.document, self._server_name, self._key)

    async def _fetch(self, server_name: ServerName) -> StoredKeyDocument | None:
        """Fetch, verify and store `server_name`'s key document; None on any failure."""
        if self._fetcher is None:
            return None
        now = self._clock.time_ms()
        try:
            document = await self._fetcher.get_json(server_name, _SERVER_PATH)
            keys = verify_key_document(
                document, server_name=server_name, fetched_from=server_name, now_ms=now
            )
        except (FederationError, KeyDocumentError) as exc:
            logger.info("notary fetch failed server=%s error=%s", server_name, exc)
            return None
        valid_until = document["valid_until_ts"]
        await self._store.put_server_keys(keys)
        await self._store.put_key_document(server_name, document, valid_until, now)
        return StoredKeyDocument(document, valid_until, now)

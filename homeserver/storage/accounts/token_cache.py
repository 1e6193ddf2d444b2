"""A process-local cache of access-token lookups, so an authenticated request costs no query.

Registered as `access_tokens` (see `homeserver.caching`), keyed for invalidation by user ID:
every store that deletes tokens or changes what a lookup returns (devices, tokens, users)
invalidates the user through the `CacheInvalidator` after its transaction, so a revoked token
never outlives the write that revoked it in this process. Entries also expire after
`TTL_SECONDS`, which bounds how long another worker's revocation could go unseen.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Final, Generic, TypeVar

from core.identifiers import UserId
from homeserver.caching import LruCache

_V = TypeVar("_V")

ACCESS_TOKENS: Final = "access_tokens"
MAX_ENTRIES = 100_000
TTL_SECONDS = 60.0


class TokenCache(Generic[_V]):
    """Token hash → lookup result, invalidated per user ID."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_seconds: float = TTL_SECONDS) -> None:
        self._entries: LruCache[str, tuple[float, UserId, _V]] = LruCache(
            ACCESS_TOKENS, max_entries, self._evicted
        )
        self._by_user: dict[UserId, set[str]] = {}
        self._ttl = ttl_seconds

    def get(self, token_hash: str) -> _V | None:
        """The cached value, or None when absent or expired."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        stored_at, user_id, value = entry
        if time.monotonic() - stored_at > self._ttl:
            self._entries.invalidate(token_hash)
            self._unlink(token_hash, user_id)
            return None
        return value

    def put(self, token_hash: str, user_id: UserId, value: _V) -> None:
        """Remember a lookup."""
        self._entries.put(token_hash, (time.monotonic(), user_id, value))
        self._by_user.setdefault(user_id, set()).add(token_hash)

    def invalidate(self, key: Hashable) -> None:
        """Drop every cached token of the user ID `key`."""
        for token_hash in self._by_user.pop(UserId(str(key)), set()):
            self._entries.invalidate(token_hash)

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()
        self._by_user.clear()

    def _evicted(self, token_hash: str, entry: tuple[float, UserId, _V]) -> None:
        self._unlink(token_hash, entry[1])

    def _unlink(self, token_hash: str, user_id: UserId) -> None:
        hashes = self._by_user.get(user_id)
        if hashes is not None:
            hashes.discard(token_hash)
            if not hashes:
                del self._by_user[user_id]

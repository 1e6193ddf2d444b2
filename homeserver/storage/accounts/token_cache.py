"""A process-local cache of access-token lookups, so an authenticated request costs no query.

Every store that deletes tokens or changes what a lookup returns (devices, tokens, users)
forgets the user's entries after its transaction, so a revoked token never outlives the write
that revoked it in this process. Entries also expire after `TTL_SECONDS`, which bounds how
long another worker's revocation could go unseen.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

_V = TypeVar("_V")

MAX_ENTRIES = 100_000
TTL_SECONDS = 60.0


class TokenCache(Generic[_V]):
    """Token hash → lookup result, with per-user invalidation."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_seconds: float = TTL_SECONDS) -> None:
        self._entries: OrderedDict[str, tuple[float, str, _V]] = OrderedDict()
        self._by_user: dict[str, set[str]] = {}
        self._max = max_entries
        self._ttl = ttl_seconds

    def get(self, token_hash: str) -> _V | None:
        """The cached value, or None when absent or expired."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        stored_at, user_id, value = entry
        if time.monotonic() - stored_at > self._ttl:
            self._drop(token_hash, user_id)
            return None
        return value

    def put(self, token_hash: str, user_id: str, value: _V) -> None:
        """Remember a lookup."""
        self._entries[token_hash] = (time.monotonic(), user_id, value)
        self._entries.move_to_end(token_hash)
        self._by_user.setdefault(user_id, set()).add(token_hash)
        while len(self._entries) > self._max:
            old_hash, (_, old_user, _) = self._entries.popitem(last=False)
            self._unlink(old_hash, old_user)

    def forget_user(self, user_id: str) -> None:
        """Drop every cached token of `user_id`."""
        for token_hash in self._by_user.pop(user_id, set()):
            self._entries.pop(token_hash, None)

    def _drop(self, token_hash: str, user_id: str) -> None:
        self._entries.pop(token_hash, None)
        self._unlink(token_hash, user_id)

    def _unlink(self, token_hash: str, user_id: str) -> None:
        hashes = self._by_user.get(user_id)
        if hashes is not None:
            hashes.discard(token_hash)
            if not hashes:
                del self._by_user[user_id]

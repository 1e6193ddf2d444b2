"""The one cache type and the one invalidation interface (`homeserver.caching`), and the
access-token cache built on them."""

from __future__ import annotations

import pytest

from homeserver.caching import CacheInvalidator, CacheRegistry, LruCache
from homeserver.storage.accounts.token_cache import ACCESS_TOKENS, TokenCache


def test_lru_forgets_the_least_recently_used_entry() -> None:
    evicted: list[tuple[str, int]] = []
    cache: LruCache[str, int] = LruCache("test", 2, lambda k, v: evicted.append((k, v)))
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert "b" not in cache
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert evicted == [("b", 2)]
    assert len(cache) == 2


def test_lru_invalidate_and_clear() -> None:
    evicted: list[tuple[str, int]] = []
    cache: LruCache[str, int] = LruCache("test", 10, lambda k, v: evicted.append((k, v)))
    cache.put("a", 1)
    cache.put("b", 2)
    cache.invalidate("a")
    cache.invalidate("missing")
    assert cache.get("a") is None
    assert cache.get("b") == 2
    cache.clear()
    assert len(cache) == 0
    assert evicted == []  # only evictions for lack of room are reported


def test_registry_routes_invalidations_by_name() -> None:
    registry = CacheRegistry()
    rooms: LruCache[str, str] = registry.lru("rooms", 10)
    pairs: LruCache[tuple[str, int], str] = registry.lru("pairs", 10)
    rooms.put("!a:x", "head")
    rooms.put("!b:x", "head")
    pairs.put(("!a:x", 1), "v")
    invalidator: CacheInvalidator = registry
    invalidator.invalidate("rooms", "!a:x")
    invalidator.invalidate("pairs", ("!a:x", 1))
    assert rooms.get("!a:x") is None
    assert rooms.get("!b:x") == "head"
    assert pairs.get(("!a:x", 1)) is None
    invalidator.clear("rooms")
    assert len(rooms) == 0
    assert registry.names() == ["pairs", "rooms"]


def test_registry_refuses_duplicate_and_unknown_names() -> None:
    registry = CacheRegistry()
    registry.lru("rooms", 10)
    with pytest.raises(ValueError, match="already registered"):
        registry.lru("rooms", 10)
    with pytest.raises(KeyError):
        registry.invalidate("romos", "x")


def test_token_cache_invalidates_per_user_and_unlinks_evicted_entries() -> None:
    registry = CacheRegistry()
    tokens: TokenCache[str] = registry.register(ACCESS_TOKENS, TokenCache(max_entries=2))
    tokens.put("h1", "@a:x", "a1")
    tokens.put("h2", "@a:x", "a2")
    tokens.put("h3", "@b:x", "b1")  # evicts h1
    assert tokens.get("h1") is None
    assert (tokens.get("h2"), tokens.get("h3")) == ("a2", "b1")
    registry.invalidate(ACCESS_TOKENS, "@a:x")
    assert tokens.get("h2") is None
    assert tokens.get("h3") == "b1"
    registry.clear(ACCESS_TOKENS)
    assert tokens.get("h3") is None


def test_token_cache_entries_expire() -> None:
    tokens: TokenCache[str] = TokenCache(ttl_seconds=-1.0)
    tokens.put("h1", "@a:x", "a1")
    assert tokens.get("h1") is None

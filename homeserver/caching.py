"""The one in-memory cache type of the homeserver, and the one way to invalidate a cache.

Placement: this module sits at the package root, beside `clock.py`, because both storage
(the access-token cache) and services (event, state, push-rule, key-count caches) use it and
storage may not import services. It imports nothing from the layers.

`LruCache` is a bounded mapping that forgets its least recently used entries. Whoever changes
the data a cache reflects invalidates it through a `CacheInvalidator` (`invalidate(cache_name,
key)` / `clear(cache_name)`), never by touching another component's cache directly. The
in-process implementation is `CacheRegistry`, where every cache is registered under a unique
name; a deployment of several processes will swap in an invalidator that also publishes each
invalidation on the notification bus so every process drops the entry. Keys passed to
`invalidate` must therefore be plain values (strings, tuples of strings and ints).

Caches and what they assume (the scale-out work needs this list):

Invalidated through the registry (correct with several writers once invalidations are
broadcast):
- `access_tokens` (storage, `TokenCache`): token hash -> owner; invalidated per user ID by
  every store that revokes tokens or changes a user's admin/deactivated flags. Entries also
  expire after a TTL, bounding how long a missed remote invalidation can last.
- `push_rules` (`PushRuleService`): user ID -> merged and compiled rule set; invalidated on
  every rule change.
- `e2e_key_counts` (`E2eKeysService`): user ID -> per-device one-time-key counts and unused
  fallback key types; invalidated on upload, claim and device removal.
- `event_pdus` (`EventService`): event ID -> PDU; events never change except by redaction,
  which invalidates the entry.

Immutable data (never invalidated; safe with any number of processes):
- `state_lookup_entries`, `state_lookup_positions` (`StateLookup`): state groups and an
  event's stream position and state group never change once written.
- `visibility_values` (`VisibilityService`): the history visibility / membership of an event.
- `push_room_state` (`NotificationService`): a room's push-relevant state at a state group.

Assume a single writer process (kept up to date in place by the one process that writes, not
invalidated; several writers need these moved behind the bus or dropped):
- `room_heads` (`EventService`): each room's forward extremities, depth and state group.
  Another process sending into the same room would make them stale: sends must be routed to
  one writer per room, or the head re-read under a database lock.
- `room_state` (`EventService`): each room's current state at its latest state group.
- `RecentEvents` (services/rooms/recent_events.py, a per-room log rather than a key/value
  cache) and its `recent_txn_ids` map: filled from this process's commits only.
- Stream heads (`Database.positions`, storage/streams.py): advanced after this process's
  commits; other writers' commits are seen only on the next read from the database.
- Presence (`PresenceService`): the authoritative in-memory presence of the users it tracks,
  flushed to storage in batches; one process owns presence.
- Typing (`TypingService`): in memory only; one process owns typing.

Self-validating (checked against a version on every read):
- `sync_memberships` (`SyncService`): a user's memberships, tagged with the notifier version
  of the user's key; correct across processes once notifications are shared.

Not data caches: `device_last_touched` (`DeviceService`, write throttling of last-seen
times), the memoised SQL translation in storage/sqlite.py (a pure function of the SQL text).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
C = TypeVar("C", bound="Invalidatable")


class Invalidatable(Protocol):
    """Anything a `CacheRegistry` can invalidate."""

    def invalidate(self, key: Hashable) -> None:
        """Drop what is cached for `key` (nothing if absent)."""

    def clear(self) -> None:
        """Drop everything."""


class CacheInvalidator(Protocol):
    """The one interface through which cached data is declared stale."""

    def invalidate(self, cache_name: str, key: Hashable) -> None:
        """Drop `key` from the cache named `cache_name` (in every process that has it)."""

    def clear(self, cache_name: str) -> None:
        """Empty the cache named `cache_name` (in every process that has it)."""


class LruCache(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entries.

    Not thread-safe; meant for one event loop. `get` and `put` mark an entry recently used.
    """

    __slots__ = ("_data", "_max", "_on_evict", "name")

    def __init__(
        self,
        name: str,
        max_entries: int,
        on_evict: Callable[[K, V], None] | None = None,
    ) -> None:
        """Create an empty cache.

        Args:
            name: The name it is registered under (also used in logs).
            max_entries: How many entries it keeps at most.
            on_evict: Called with each entry dropped for lack of room (not on invalidation).
        """
        self.name = name
        self._data: OrderedDict[K, V] = OrderedDict()
        self._max = max_entries
        self._on_evict = on_evict

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        """The value of `key` (marking it recently used), or None."""
        if key not in self._data:
            return None
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: K, value: V) -> None:
        """Remember `value` under `key`, forgetting the least recently used entry if full."""
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            old_key, old_value = self._data.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(old_key, old_value)

    def invalidate(self, key: Hashable) -> None:
        """Drop `key` (nothing if absent)."""
        if key in self._data:
            # Invalidations arrive by name with untyped keys; a present key is a K.
            del self._data[cast("K", key)]

    def clear(self) -> None:
        """Drop everything."""
        self._data.clear()


class CacheRegistry:
    """Every cache of one process by name; the in-process `CacheInvalidator`."""

    def __init__(self) -> None:
        self._caches: dict[str, Invalidatable] = {}

    def register(self, name: str, cache: C) -> C:
        """Make `cache` invalidatable as `name`; returns it.

        Raises:
            ValueError: if another cache already has that name.
        """
        if name in self._caches:
            raise ValueError(f"cache {name!r} is already registered")
        self._caches[name] = cache
        return cache

    def lru(
        self, name: str, max_entries: int, on_evict: Callable[[K, V], None] | None = None
    ) -> LruCache[K, V]:
        """A new registered `LruCache`."""
        return self.register(name, LruCache[K, V](name, max_entries, on_evict))

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._caches)

    def invalidate(self, cache_name: str, key: Hashable) -> None:
        """Drop `key` from the cache `cache_name`.

        Raises:
            KeyError: for an unknown cache name (a typo must not pass silently).
        """
        self._caches[cache_name].invalidate(key)

    def clear(self, cache_name: str) -> None:
        """Empty the cache `cache_name`.

        Raises:
            KeyError: for an unknown cache name.
        """
        self._caches[cache_name].clear()

"""Wakes waiting `/sync` requests when something they care about changes.

Waiters register under keys (`room:!id`, `user:@id`); `notify` resolves exactly the futures of
the keys it names, so no waiter polls the database. The interface is small on purpose: a
Redis-backed notifier for several workers publishes the same keys on a channel.

At shutdown `close` ends every wait at once (as a timeout would) and later waits return at
once, so long-polling `/sync` requests answer with what they have instead of holding the
server's shutdown until their timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from core.identifiers import RoomId, UserId


def room_key(room_id: RoomId) -> str:
    """The notifier key of a room."""
    return f"room:{room_id}"


def user_key(user_id: UserId) -> str:
    """The notifier key of a user."""
    return f"user:{user_id}"


class Notifier:
    """In-process wake-ups keyed by room and user."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._last: dict[str, int] = {}
        self._closed = False
        self.version = 0

    async def wait(self, keys: Iterable[str], wait_seconds: float, after_version: int) -> bool:
        """Wait until one of `keys` is notified or `wait_seconds` pass; True if woken.

        A notification of any of `keys` after `after_version` (a value of `version` read
        before the caller last looked at the data) returns at once, so a change that lands
        between looking and waiting is never missed. Once the notifier is closed, every wait
        returns False at once.
        """
        key_list = list(keys)
        if any(self._last.get(key, 0) > after_version for key in key_list):
            return True
        if self._closed:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in key_list:
            self._waiters.setdefault(key, set()).add(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), wait_seconds)
        except TimeoutError:
            return False
        finally:
            for key in key_list:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(future)
                    if not waiters:
                        del self._waiters[key]
        return not self._closed

    def close(self) -> int:
        """End every wait now and refuse to wait from now on (shutdown); returns how many ended."""
        self._closed = True
        futures = {f for waiters in self._waiters.values() for f in waiters if not f.done()}
        for future in futures:
            future.set_result(None)
        return len(futures)

    def notify(self, keys: Iterable[str]) -> None:
        """Wake every waiter registered under any of `keys`."""
        self.version += 1
        for key in keys:
            self._last[key] = self.version
            for future in self._waiters.pop(key, ()):
                if not future.done():
                    future.set_result(None)

    def last_version(self, key: str) -> int:
        """The `version` at which `key` was last notified (0 if never)."""
        return self._last.get(key, 0)

    def waiter_count(self) -> int:
        """How many distinct waits are registered (for metrics)."""
        return len({id(f) for waiters in self._waiters.values() for f in waiters})

"""The /sync notifier: wake-ups by key, and closing it at shutdown ends every wait."""

from __future__ import annotations

import asyncio

from homeserver.services.common.notifier import Notifier, room_key, user_key
from tests.homeserver.fake_clock import settle

LONG_S = 60.0  # never reached: every wait here ends for another reason first


async def test_notify_wakes_only_the_named_keys() -> None:
    notifier = Notifier()
    version = notifier.version
    woken = asyncio.create_task(notifier.wait([room_key("!a:x")], LONG_S, version))
    other = asyncio.create_task(notifier.wait([user_key("@b:x")], LONG_S, version))
    await settle()
    assert notifier.waiter_count() == 2
    notifier.notify([room_key("!a:x")])
    assert await woken is True
    assert not other.done()
    notifier.close()
    assert await other is False


async def test_close_ends_every_wait_as_not_woken() -> None:
    notifier = Notifier()
    waits = [
        asyncio.create_task(notifier.wait([user_key(f"@u{i}:x")], LONG_S, notifier.version))
        for i in range(3)
    ]
    await settle()
    assert notifier.close() == 3
    assert await asyncio.gather(*waits) == [False, False, False]
    assert notifier.waiter_count() == 0


async def test_a_wait_after_close_returns_at_once() -> None:
    notifier = Notifier()
    notifier.close()
    assert await notifier.wait([user_key("@u:x")], LONG_S, notifier.version) is False
    # A change the caller has not seen yet is still reported.
    version = notifier.version
    notifier.notify([user_key("@u:x")])
    assert await notifier.wait([user_key("@u:x")], LONG_S, version) is True

"""PresenceService with a fake clock on both backends: the state machine, its timeouts, the
restart path and who sees whose presence."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from core.errors import MatrixError
from homeserver.services.common.notifier import room_key, user_key
from homeserver.services.ephemeral.presence import (
    IDLE_TIMEOUT_MS,
    LAST_ACTIVE_GRANULARITY_MS,
    MAX_SYNC_HOLD_MS,
    PERSIST_INTERVAL_MS,
    SYNC_ONLINE_TIMEOUT_MS,
    PresenceService,
    apply_timeouts,
)
from homeserver.storage.ephemeral.presence import PresenceRecord
from homeserver.storage.factory import Stores
from tests.homeserver.ephemeral.helpers import RecordingNotifier
from tests.homeserver.fake_clock import FakeClock
from tests.waiting import wait_for

ALICE = "@alice:localhost"
BOB = "@bob:localhost"
CAROL = "@carol:localhost"
ROOM = "!room:localhost"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def presence(stores: Stores, notifier: RecordingNotifier, clock: FakeClock) -> PresenceService:
    return PresenceService(stores.presence, notifier, stores.events, clock)


async def join(stores: Stores, user_id: str, room_id: str = ROOM) -> None:
    await stores.db.execute(
        "INSERT INTO memberships (user_id, room_id, membership, event_id, stream_ordering)"
        " VALUES ($1, $2, 'join', $3, 1)",
        user_id,
        room_id,
        f"$join_{user_id[1:6]}",
    )


async def state_of(presence: PresenceService, user_id: str = ALICE) -> str:
    return str((await presence.get_presence(user_id, user_id))["presence"])


def test_apply_timeouts_rules() -> None:
    now = 10_000_000
    online = PresenceRecord(ALICE, "online", None, now, now, True)
    assert apply_timeouts(online, now, connected=False) == online
    idle = apply_timeouts(online, now + IDLE_TIMEOUT_MS + 1, connected=True)
    assert (idle.state, idle.currently_active) == ("unavailable", False)
    gone = apply_timeouts(online, now + SYNC_ONLINE_TIMEOUT_MS + 1, connected=False)
    assert gone.state == "offline"
    quiet = apply_timeouts(online, now + LAST_ACTIVE_GRANULARITY_MS, connected=True)
    assert (quiet.state, quiet.currently_active) == ("online", False)
    offline = replace(online, state="offline", currently_active=False)
    assert apply_timeouts(offline, now + IDLE_TIMEOUT_MS * 2, connected=False) == offline


async def test_sync_makes_online_then_offline_after_the_last_sync(
    presence: PresenceService, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    assert await state_of(presence) == "offline"
    await presence.on_sync(ALICE, None)
    own = await presence.get_presence(ALICE, ALICE)
    assert own == {"presence": "online", "last_active_ago": 0, "currently_active": True}
    assert await presence.current_position() == 1
    assert notifier.notified == [user_key(ALICE)]
    clock.advance(20_000)
    presence.sync_finished(ALICE)
    clock.advance(SYNC_ONLINE_TIMEOUT_MS)
    await presence.check_timeouts()
    assert await state_of(presence) == "online"
    clock.advance(1)
    await presence.check_timeouts()
    own = await presence.get_presence(ALICE, ALICE)
    assert own["presence"] == "offline"
    assert own["last_active_ago"] == 20_000 + SYNC_ONLINE_TIMEOUT_MS + 1
    assert await presence.current_position() == 2


async def test_idle_while_connected_becomes_unavailable(
    presence: PresenceService, clock: FakeClock
) -> None:
    await presence.on_sync(ALICE, "online")
    clock.advance(LAST_ACTIVE_GRANULARITY_MS)
    await presence.check_timeouts()
    own = await presence.get_presence(ALICE, ALICE)
    assert (own["presence"], own["currently_active"]) == ("online", False)
    assert await presence.current_position() == 2
    clock.advance(IDLE_TIMEOUT_MS - LAST_ACTIVE_GRANULARITY_MS + 1)
    await presence.check_timeouts()
    own = await presence.get_presence(ALICE, ALICE)
    assert own["presence"] == "unavailable"
    assert "currently_active" not in own
    # A sync that never reported its end stops counting as a connection eventually.
    clock.advance(MAX_SYNC_HOLD_MS)
    await presence.check_timeouts()
    assert await state_of(presence) == "offline"


async def test_set_presence_values(presence: PresenceService, clock: FakeClock) -> None:
    await presence.on_sync(ALICE, "unavailable")
    assert await state_of(presence) == "unavailable"
    position = await presence.current_position()
    await presence.on_sync(ALICE, "offline")
    assert await state_of(presence) == "unavailable"
    assert await presence.current_position() == position
    await presence.set_presence(ALICE, "online", "busy coding")
    own = await presence.get_presence(ALICE, ALICE)
    assert own["status_msg"] == "busy coding"
    assert own["presence"] == "online"
    # The same state again is no visible change.
    clock.advance(1000)
    await presence.set_presence(ALICE, "online", "busy coding")
    assert await presence.current_position() == position + 1
    clock.advance(1000)
    await presence.set_presence(ALICE, "offline", None)
    assert await presence.get_presence(ALICE, ALICE) == {
        "presence": "offline",
        "last_active_ago": 1000,
    }
    for bad in ("away", "ONLINE"):
        with pytest.raises(MatrixError) as raised:
            await presence.set_presence(ALICE, bad, None)
        assert raised.value.errcode == "M_INVALID_PARAM"
        with pytest.raises(MatrixError):
            await presence.on_sync(ALICE, bad)


async def test_visibility_and_events(
    presence: PresenceService, stores: Stores, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    await join(stores, ALICE)
    await join(stores, BOB)
    await presence.on_sync(ALICE, None)
    assert notifier.notified == [user_key(ALICE), room_key(ROOM)]
    await presence.set_presence(CAROL, "online", None)
    assert (await presence.get_presence(BOB, ALICE))["presence"] == "online"
    with pytest.raises(MatrixError) as raised:
        await presence.get_presence(CAROL, ALICE)
    assert raised.value.errcode == "M_FORBIDDEN"
    with pytest.raises(MatrixError) as raised:
        await presence.get_presence(BOB, "not a user")
    assert raised.value.errcode == "M_INVALID_PARAM"
    until = await presence.current_position()
    events = await presence.presence_events(BOB, 0, until)
    assert [(e["type"], e["sender"]) for e in events] == [("m.presence", ALICE)]
    assert events[0]["content"]["presence"] == "online"
    assert [e["sender"] for e in await presence.presence_events(CAROL, 0, until)] == [CAROL]
    # Initial sync leaves offline users out; incremental sync reports going offline.
    presence.sync_finished(ALICE)
    clock.advance(SYNC_ONLINE_TIMEOUT_MS + 1)
    await presence.check_timeouts()
    later = await presence.current_position()
    assert await presence.presence_events(BOB, 0, later) == []
    changes = await presence.presence_events(BOB, until, later)
    assert [(e["sender"], e["content"]["presence"]) for e in changes] == [(ALICE, "offline")]
    assert await presence.presence_events(BOB, later, later) == []


async def test_restart_reloads_and_times_out(
    stores: Stores, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    first = PresenceService(stores.presence, notifier, stores.events, clock)
    await first.on_sync(ALICE, None)
    await first.on_sync(BOB, None)
    first.sync_finished(ALICE)
    first.sync_finished(BOB)
    clock.advance(PERSIST_INTERVAL_MS)
    await first.on_sync(ALICE, None)
    first.sync_finished(ALICE)
    await first.flush()
    # Down for a while: Alice synced recently enough to get time to reconnect, Bob did not.
    clock.advance(SYNC_ONLINE_TIMEOUT_MS + 1000)
    second = PresenceService(stores.presence, notifier, stores.events, clock)
    await second.load()
    await second.check_timeouts()
    assert await state_of(second, ALICE) == "online"
    assert await state_of(second, BOB) == "offline"
    clock.advance(SYNC_ONLINE_TIMEOUT_MS + 1)
    await second.check_timeouts()
    assert await state_of(second, ALICE) == "offline"


async def test_timeout_task_runs_on_the_clock(presence: PresenceService, clock: FakeClock) -> None:
    await presence.on_sync(ALICE, None)
    presence.sync_finished(ALICE)
    task = asyncio.create_task(presence.run_timeouts(5.0))
    try:
        for _ in range(8):
            await _until(lambda: clock.sleeping > 0)
            clock.advance(5_000)
        await _until_async(lambda: _is_offline(presence))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _is_offline(presence: PresenceService) -> bool:
    return await state_of(presence) == "offline"


async def _until(condition: Callable[[], bool]) -> None:
    await wait_for(condition)


async def _until_async(condition: Callable[[], Awaitable[bool]]) -> None:
    await wait_for(condition)

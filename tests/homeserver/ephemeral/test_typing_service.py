"""TypingService with a fake clock: membership checks, positions, expiry and the sweeper."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import MatrixError
from homeserver.services.common.notifier import room_key
from homeserver.services.ephemeral.typing import TypingService
from tests.homeserver.ephemeral.helpers import RecordingNotifier
from tests.homeserver.fake_clock import FakeClock, settle

ROOM = "!room:localhost"
OTHER_ROOM = "!other:localhost"
ALICE = "@alice:localhost"
BOB = "@bob:localhost"


class Memberships:
    """A membership lookup over a fixed table."""

    def __init__(self, joined: dict[str, set[str]]) -> None:
        self._joined = joined

    async def membership(self, user_id: str, room_id: str) -> tuple[str, str] | None:
        if user_id in self._joined.get(room_id, set()):
            return ("join", "$member")
        return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def typing(clock: FakeClock, notifier: RecordingNotifier) -> TypingService:
    joined = {ROOM: {ALICE, BOB}, OTHER_ROOM: {BOB}}
    return TypingService(notifier, Memberships(joined), clock)


def users(service: TypingService, room_id: str = ROOM) -> list[str]:
    event = service.typing_event(room_id)
    assert event["type"] == "m.typing"
    return list(event["content"]["user_ids"])


async def test_typing_starts_and_stops(typing: TypingService, notifier: RecordingNotifier) -> None:
    assert typing.current_position() == 0
    assert users(typing) == []
    await typing.set_typing(ALICE, ROOM, True, 10_000)
    await typing.set_typing(BOB, ROOM, True, 10_000)
    assert users(typing) == [ALICE, BOB]
    assert typing.current_position() == 2
    assert typing.rooms_changed_since(0) == {ROOM}
    assert typing.rooms_changed_since(2) == set()
    assert notifier.notified == [room_key(ROOM), room_key(ROOM)]
    await typing.set_typing(ALICE, ROOM, False, None)
    assert users(typing) == [BOB]
    assert typing.current_position() == 3
    assert typing.rooms_changed_since(2) == {ROOM}


async def test_refreshing_or_repeating_changes_nothing(typing: TypingService) -> None:
    await typing.set_typing(ALICE, ROOM, True, 10_000)
    await typing.set_typing(ALICE, ROOM, True, 20_000)
    await typing.set_typing(BOB, ROOM, False, None)
    assert typing.current_position() == 1


async def test_rooms_are_tracked_separately(typing: TypingService) -> None:
    await typing.set_typing(BOB, ROOM, True, 10_000)
    position = typing.current_position()
    await typing.set_typing(BOB, OTHER_ROOM, True, 10_000)
    assert typing.rooms_changed_since(position) == {OTHER_ROOM}
    assert users(typing, OTHER_ROOM) == [BOB]
    assert users(typing, "!unknown:localhost") == []


async def test_must_be_joined(typing: TypingService) -> None:
    with pytest.raises(MatrixError) as raised:
        await typing.set_typing(ALICE, OTHER_ROOM, True, 1000)
    assert raised.value.errcode == "M_FORBIDDEN"
    assert typing.current_position() == 0


@pytest.mark.parametrize(("room_id", "timeout_ms"), [("not-a-room", 1000), (ROOM, -1)])
async def test_bad_input(typing: TypingService, room_id: str, timeout_ms: int) -> None:
    with pytest.raises(MatrixError) as raised:
        await typing.set_typing(ALICE, room_id, True, timeout_ms)
    assert raised.value.errcode == "M_INVALID_PARAM"


async def test_expiry_is_lazy_then_swept(
    typing: TypingService, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    await typing.set_typing(ALICE, ROOM, True, 10_000)
    await typing.set_typing(BOB, ROOM, True, 30_000)
    clock.advance(9_999)
    assert typing.expire_due() == set()
    assert users(typing) == [ALICE, BOB]
    clock.advance(1)
    # Readers stop seeing Alice at once; the sweep announces it.
    assert users(typing) == [BOB]
    assert typing.current_position() == 2
    notifier.notified.clear()
    assert typing.expire_due() == {ROOM}
    assert typing.current_position() == 3
    assert typing.rooms_changed_since(2) == {ROOM}
    assert notifier.notified == [room_key(ROOM)]
    assert typing.expire_due() == set()


async def test_default_and_capped_timeouts(typing: TypingService, clock: FakeClock) -> None:
    await typing.set_typing(ALICE, ROOM, True, 10 * 60_000)
    await typing.set_typing(BOB, ROOM, True, None)
    clock.advance(30_000)
    assert users(typing) == [ALICE]
    clock.advance(90_000)
    assert users(typing) == []


async def test_stopping_an_unswept_expired_entry_is_announced(
    typing: TypingService, clock: FakeClock
) -> None:
    await typing.set_typing(ALICE, ROOM, True, 1000)
    clock.advance(2000)
    await typing.set_typing(ALICE, ROOM, False, None)
    assert typing.current_position() == 2
    assert typing.expire_due() == set()


async def test_restarting_after_expiry_is_a_change(typing: TypingService, clock: FakeClock) -> None:
    await typing.set_typing(ALICE, ROOM, True, 1000)
    clock.advance(2000)
    await typing.set_typing(ALICE, ROOM, True, 1000)
    assert typing.current_position() == 2
    assert users(typing) == [ALICE]


async def test_position_from_before_a_restart(typing: TypingService) -> None:
    await typing.set_typing(ALICE, ROOM, True, 1000)
    await typing.set_typing(ALICE, ROOM, False, None)
    assert typing.rooms_changed_since(1000) == {ROOM}


async def test_sweeper_task(
    typing: TypingService, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    task = asyncio.create_task(typing.run_expiry(1.0))
    try:
        await settle()
        await typing.set_typing(ALICE, ROOM, True, 2_500)
        notifier.notified.clear()
        for _ in range(3):
            clock.advance(1000)
            await settle()
        assert users(typing) == []
        assert typing.current_position() == 2
        assert notifier.notified == [room_key(ROOM)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

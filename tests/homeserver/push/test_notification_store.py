"""NotificationStore on both backends: batches, reads, counts and the progress marker."""

from __future__ import annotations

import json

from homeserver.storage.factory import Stores
from homeserver.storage.push.unread_counts import Notification, ReadMark

ALICE = "@alice:localhost"
BOB = "@bob:localhost"
ROOM = "!room:localhost"
OTHER = "!other:localhost"


def note(user: str, stream: int, highlight: bool = False, room: str = ROOM) -> Notification:
    return Notification(user, room, stream, highlight)


async def test_batches_count_and_move_the_progress(stores: Stores) -> None:
    store = stores.notifications
    assert await store.progress() == 0
    changed = await store.apply_batch(
        [note(ALICE, 3), note(ALICE, 4, True), note(BOB, 4), note(ALICE, 5, room=OTHER)], [], 5
    )
    assert changed == {(ALICE, ROOM), (BOB, ROOM), (ALICE, OTHER)}
    assert await store.progress() == 5
    assert await store.counts(ALICE) == {ROOM: (2, 1), OTHER: (1, 0)}
    assert await store.apply_batch([note(ALICE, 7)], [], 9) == {(ALICE, ROOM)}
    assert await store.counts(ALICE) == {ROOM: (3, 1), OTHER: (1, 0)}
    assert await store.progress() == 9
    assert await store.apply_batch([], [], 10) == set()
    assert await store.counts("@nobody:localhost") == {}


async def test_reads_clear_up_to_the_mark(stores: Stores) -> None:
    store = stores.notifications
    await store.apply_batch([note(ALICE, 1), note(ALICE, 2, True), note(ALICE, 3)], [], 3)
    assert await store.mark_read(ReadMark(ALICE, ROOM, 2)) is True
    assert await store.counts(ALICE) == {ROOM: (1, 0)}
    assert await store.mark_read(ReadMark(ALICE, ROOM, 1)) is False
    assert await store.counts(ALICE) == {ROOM: (1, 0)}
    assert await store.mark_read(ReadMark(ALICE, ROOM, 3)) is True
    assert await store.counts(ALICE) == {}
    assert await store.mark_read(ReadMark(BOB, ROOM, 3)) is False


async def test_notifications_at_or_before_a_read_are_not_stored(stores: Stores) -> None:
    store = stores.notifications
    # A receipt overtook the evaluation of events 1..5.
    await store.mark_read(ReadMark(ALICE, ROOM, 5))
    assert await store.apply_batch([note(ALICE, 4), note(ALICE, 5)], [], 5) == set()
    assert await store.counts(ALICE) == {}
    await store.apply_batch([note(ALICE, 6, True)], [], 6)
    assert await store.counts(ALICE) == {ROOM: (1, 1)}


async def test_reads_in_a_batch_apply_before_its_notifications(stores: Stores) -> None:
    store = stores.notifications
    await store.apply_batch([note(ALICE, 1)], [], 1)
    changed = await store.apply_batch(
        [note(ALICE, 2), note(ALICE, 4)],
        [ReadMark(ALICE, ROOM, 3), ReadMark(ALICE, ROOM, 2), ReadMark(BOB, ROOM, 4)],
        4,
    )
    assert changed == {(ALICE, ROOM)}
    assert await store.counts(ALICE) == {ROOM: (1, 0)}


async def test_events_after_reads_the_stream(stores: Stores) -> None:
    for stream in (1, 2, 3):
        raw = {"type": "m.room.message", "sender": BOB, "content": {"body": str(stream)}}
        await stores.db.execute(
            "INSERT INTO events (event_id, room_id, stream_ordering, depth, event_type,"
            " state_key, sender, origin_server_ts, state_group, json)"
            " VALUES ($1, $2, $3, $4, $5, NULL, $6, 0, $7, $8)",
            f"$e{stream}",
            ROOM,
            stream,
            stream,
            "m.room.message",
            BOB,
            10 + stream,
            json.dumps(raw),
        )
    events = await stores.notifications.events_after(1, 5)
    assert [(e.stream_ordering, e.state_group, e.raw["content"]["body"]) for e in events] == [
        (2, 12, "2"),
        (3, 13, "3"),
    ]
    assert [e.stream_ordering for e in await stores.notifications.events_after(0, 1)] == [1]

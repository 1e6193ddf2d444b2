"""The SDK's local search index: matching, order, rooms, pages, highlights, redactions, and the
sealed index that keeps no readable word on disk (no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sdk.crypto.store import IndexSealer
from sdk.events import RoomEvent
from sdk.search import LocalSearch, SearchError
from sdk.store import Store

ROOM, OTHER = "!room:example.org", "!other:example.org"


def _message(n: int, body: str, room: str = ROOM) -> RoomEvent:
    encrypted = RoomEvent(room, f"$e{n}", "m.room.encrypted", "@a:example.org", n)
    return RoomEvent(
        room,
        f"$e{n}",
        "m.room.message",
        "@a:example.org",
        1000 + n,
        content={"msgtype": "m.text", "body": body},
        encrypted=encrypted,
    )


def _events(body: dict[str, Any]) -> dict[str, Any]:
    events: dict[str, Any] = body["search_categories"]["room_events"]
    return events


def _bodies(body: dict[str, Any]) -> list[str]:
    return [r["result"]["content"]["body"] for r in _events(body)["results"]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "client.db")
    yield opened
    await opened.close()


async def test_matches_in_the_servers_shape(store: Store) -> None:
    index = await LocalSearch.open(store)
    added = await index.add(
        [
            _message(1, "The meeting moved to Tuesday"),
            _message(2, "Meeting notes: the meeting about meetings"),
            _message(3, "lunch at noon"),
            _message(4, "Café meeting elsewhere", OTHER),
        ]
    )
    assert added == 4
    assert await index.add([_message(1, "The meeting moved to Tuesday")]) == 0

    found = await index.search("meeting")
    events = _events(found)
    assert _bodies(found)[0] == "Meeting notes: the meeting about meetings"
    assert events["count"] == 3
    assert set(events["highlights"]) == {"meeting", "Meeting", "meetings"}
    first = events["results"][0]
    assert first["rank"] > 0
    assert first["result"]["event_id"] == "$e2"
    assert first["result"]["type"] == "m.room.message"
    assert first["result"]["room_id"] == ROOM
    assert await index.search("meet", order_by="recent") == await index.search(
        "meet", order_by="recent"
    )
    assert _bodies(await index.search("meet", order_by="recent")) == [
        "Café meeting elsewhere",
        "Meeting notes: the meeting about meetings",
        "The meeting moved to Tuesday",
    ]
    assert _bodies(await index.search("cafe", rooms=[OTHER])) == ["Café meeting elsewhere"]
    assert _bodies(await index.search("meeting", rooms=[])) == []
    assert _bodies(await index.search("meeting lunch")) == []


async def test_pages_follow_next_batch(store: Store) -> None:
    index = await LocalSearch.open(store)
    await index.add([_message(n, f"tick {n} " + "tick " * (n % 3)) for n in range(12)])
    for order in ("rank", "recent"):
        seen: list[str] = []
        token: str | None = None
        while True:
            page = _events(await index.search("tick", limit=5, order_by=order, next_batch=token))
            seen += [r["result"]["event_id"] for r in page["results"]]
            token = page.get("next_batch")
            if token is None:
                break
        everything = _events(await index.search("tick", limit=100, order_by=order))
        assert seen == [r["result"]["event_id"] for r in everything["results"]]
        assert len(seen) == 12
    with pytest.raises(SearchError):
        await index.search("tick", next_batch="%%%")
    with pytest.raises(SearchError):
        await index.search("tick", order_by="oldest")


async def test_redactions_and_removals(store: Store) -> None:
    index = await LocalSearch.open(store)
    await index.add([_message(1, "secret plan"), _message(2, "public plan")])
    redaction = RoomEvent(
        ROOM, "$r", "m.room.redaction", "@a:example.org", 5, content={"redacts": "$e1"}
    )
    await index.add([redaction])
    assert _bodies(await index.search("plan")) == ["public plan"]
    assert await index.remove(["$e2", "$e2", "$missing"]) == 1
    assert _bodies(await index.search("plan")) == []


async def test_a_sealed_index_keeps_no_word_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "sealed.db"
    sealer = IndexSealer(b"k" * 32)
    store = await Store.open(path)
    index = await LocalSearch.open(store, sealer)
    await index.add([_message(1, "the rendezvous is at the lighthouse")])
    assert _bodies(await index.search("lighthouse")) == ["the rendezvous is at the lighthouse"]
    assert _bodies(await index.search("RENDEZVOUS")) == ["the rendezvous is at the lighthouse"]
    assert _bodies(await index.search("light")) == []  # hashed terms have no prefixes
    await store.close()
    for name in (path, path.with_name(path.name + "-wal")):
        if name.exists():
            data = name.read_bytes()
            assert b"lighthouse" not in data
            assert b"rendezvous" not in data

    # Opened with another key (or none), the index cannot be read: it starts empty.
    store = await Store.open(path)
    other = await LocalSearch.open(store, IndexSealer(b"z" * 32))
    assert _bodies(await other.search("lighthouse")) == []
    await store.close()

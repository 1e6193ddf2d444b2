"""The search index store on both backends: terms in, matches out, removals, orphans."""

from __future__ import annotations

import json

import pytest

from core.identifiers import EventId, RoomId, UserId
from core.search_text import parse_query, terms
from homeserver.storage.factory import Stores
from homeserver.storage.search import index
from homeserver.storage.search.index import FORWARD, Document, MatchQuery, Removal

ROOM = RoomId("!room:localhost")
OTHER = RoomId("!other:localhost")
ALICE = UserId("@alice:localhost")
BOB = UserId("@bob:localhost")


async def _event(stores: Stores, stream: int, room: RoomId, body: str) -> Document:
    event_id = EventId(f"$e{stream}")
    raw = {"type": "m.room.message", "room_id": room, "sender": ALICE, "content": {"body": body}}
    await stores.db.execute(
        "INSERT INTO events (event_id, room_id, stream_ordering, depth, event_type, state_key,"
        " sender, origin_server_ts, state_group, json) VALUES ($1, $2, $3, 1, $4, NULL, $5,"
        " 0, 0, $6)",
        event_id,
        room,
        stream,
        "m.room.message",
        ALICE,
        json.dumps(raw),
    )
    return Document(stream, room, "content.body", tuple(terms(body)))


async def _member(stores: Stores, user: UserId, room: RoomId, membership: str, at: int) -> None:
    await stores.db.execute(
        "INSERT INTO memberships (user_id, room_id, membership, event_id, stream_ordering)"
        " VALUES ($1, $2, $3, $4, $5)",
        user,
        room,
        membership,
        f"$m{user}{room}",
        at,
    )


def _match(term: str, user: UserId = ALICE, **changes: object) -> MatchQuery:
    fields: dict[str, object] = {
        "query": parse_query(term),
        "user_id": user,
        "keys": ("content.body",),
    }
    fields.update(changes)
    return MatchQuery(**fields)  # type: ignore[arg-type]


async def test_matches_rank_recent_and_continue(stores: Stores) -> None:
    docs = [
        await _event(stores, 1, ROOM, "the quarterly meeting is on monday"),
        await _event(stores, 2, ROOM, "meeting meeting meeting"),
        await _event(stores, 3, ROOM, "lunch on tuesday"),
        await _event(stores, 4, OTHER, "another meeting elsewhere"),
    ]
    await _member(stores, ALICE, ROOM, "join", 0)
    await _member(stores, ALICE, OTHER, "join", 0)
    await stores.search.apply(docs, [], {FORWARD: 4})
    assert (await stores.search.progress())[FORWARD] == 4

    ranked = await stores.search.search(_match("meeting"))
    assert ranked[0].stream_ordering == 2
    assert sorted(h.stream_ordering for h in ranked) == [1, 2, 4]
    recent = await stores.search.search(_match("meet", recent=True))
    assert [h.stream_ordering for h in recent] == [4, 2, 1]
    page = await stores.search.search(_match("meeting", limit=2))
    rest = await stores.search.search(
        _match("meeting", after=(page[-1].score, page[-1].stream_ordering))
    )
    assert [h.stream_ordering for h in page + rest] == [h.stream_ordering for h in ranked]
    assert await stores.search.count(_match("meeting")) == 3
    only = await stores.search.search(_match("meeting", rooms=(OTHER,)))
    assert [h.event_id for h in only] == ["$e4"]
    assert await stores.search.search(_match("meeting", not_rooms=(ROOM, OTHER))) == []
    both = await stores.search.search(_match("meeting monday"))
    assert [h.stream_ordering for h in both] == [1]


async def test_membership_bounds_what_a_user_finds(stores: Stores) -> None:
    docs = [await _event(stores, n, ROOM, f"message number {n}") for n in range(1, 6)]
    await stores.search.apply(docs, [])
    assert await stores.search.search(_match("message", BOB)) == []
    await _member(stores, BOB, ROOM, "leave", 3)
    found = await stores.search.search(_match("message", BOB, recent=True))
    assert [h.stream_ordering for h in found] == [3, 2, 1]


async def test_removal_and_orphans(stores: Stores) -> None:
    docs = [
        await _event(stores, 1, ROOM, "secret plans"),
        await _event(stores, 2, ROOM, "secret recipe"),
    ]
    await _member(stores, ALICE, ROOM, "join", 0)
    await stores.search.apply(docs, [])
    await stores.search.apply(docs, [])  # indexing twice changes nothing
    assert await stores.search.count(_match("secret")) == 2
    removed = await stores.search.apply([], [Removal(EventId("$e1"), docs[0].terms)])
    assert removed == 1
    assert [h.event_id for h in await stores.search.search(_match("secret"))] == ["$e2"]
    assert await stores.search.search(_match("plans")) == []
    # Terms unknown: the entry goes at once; SQLite keeps an orphan until a rebuild.
    await stores.search.apply([], [Removal(EventId("$e2"), None)])
    assert await stores.search.search(_match("secret")) == []
    orphans = await stores.search.orphan_count()
    assert orphans == (1 if stores.search.needs_terms_to_delete else 0)
    await stores.search.clear()
    assert await stores.search.orphan_count() == 0
    assert (await stores.search.progress())[FORWARD] == 0


async def test_reads_sources_in_both_directions(stores: Stores) -> None:
    await _event(stores, -2, ROOM, "old history")
    await _event(stores, 1, ROOM, "new")
    after = await stores.search.events_after(0, 10)
    assert [(s.stream_ordering, s.raw is not None) for s in after] == [(1, True)]
    below = await stores.search.events_below(1, 10)
    assert [s.stream_ordering for s in below] == [-2]


async def test_rank_and_count_cover_the_newest_matches(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = [
        await _event(stores, 1, ROOM, "apple apple apple apple"),
        await _event(stores, 2, ROOM, "an apple"),
        await _event(stores, 3, ROOM, "apple pie with more words than the others"),
    ]
    await _member(stores, ALICE, ROOM, "join", 0)
    await stores.search.apply(docs, [])
    everything = await stores.search.search(_match("apple"))
    assert sorted(h.stream_ordering for h in everything) == [1, 2, 3]
    monkeypatch.setattr(index, "RANK_WINDOW", 2)
    ranked = await stores.search.search(_match("apple"))
    assert sorted(h.stream_ordering for h in ranked) == [2, 3]
    assert await stores.search.count(_match("apple")) == 3
    monkeypatch.setattr(index, "COUNT_CAP", 2)
    assert await stores.search.count(_match("apple")) == 2


async def test_stale_entries_are_dropped(stores: Stores) -> None:
    docs = [await _event(stores, 1, ROOM, "gone soon"), await _event(stores, 2, ROOM, "stays")]
    await _member(stores, ALICE, ROOM, "join", 0)
    await stores.search.apply(docs, [])
    await stores.db.execute("UPDATE events SET redacted_by = '$r' WHERE stream_ordering = 1")
    assert await stores.search.drop_stale() == 1
    assert await stores.search.entries([EventId("$e1"), EventId("$e2")]) == {EventId("$e2"): (2, 1)}
    assert await stores.search.search(_match("gone")) == []


async def test_the_index_keeps_no_word_order(stores: Stores) -> None:
    await stores.search.apply([await _event(stores, 1, ROOM, "zulu yankee alpha zulu")], [])
    if stores.db.dialect == "sqlite":
        # A throwaway database: a view of the index's terms with their positions.
        await stores.db.execute(
            "CREATE VIRTUAL TABLE search_terms USING fts5vocab(search_fts, instance)"
        )
        rows = await stores.db.fetch_all(
            'SELECT term, "offset" AS at FROM search_terms ORDER BY at'
        )
        stored = [(r["term"], int(r["at"])) for r in rows]
    else:
        text = await stores.db.fetch_val("SELECT terms::text FROM search_fts")
        stored = [
            (item.split(":")[0].strip("'"), int(at) - 1)
            for item in str(text).split()
            for at in item.split(":")[1].split(",")
        ]
        stored.sort(key=lambda pair: pair[1])
    assert stored == [("alpha", 0), ("yankee", 1), ("zulu", 2), ("zulu", 3)]

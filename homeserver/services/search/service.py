"""`POST /search`: full-text search of room events (spec: "Server Side Search").

Only events the requester may see are searched: the index is asked for matches in rooms the
user is in or has been in (up to their departure, unless they forgot the room), then each
candidate passes the history visibility rules at that event (`VisibilityService`) and the
client's `RoomEventFilter`. Candidates come in batches in the requested order (`rank`: best
match first, newest first among equals; `recent`: newest first), each batch twice the last,
until the page is full; a page that scanned `MAX_SCAN` candidates without filling ends early
but still carries `next_batch`, so every page costs a bounded amount of work.

`next_batch` continues after the last result handed out (see `criteria`); a token handed out
inside a group continues that group only. `count` is the number of matches in the rooms
searched, before history visibility and up to the store's `COUNT_CAP` (the spec allows an
estimate). Result bodies, context and `highlights` are read from the events, never from the
index, which holds terms only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from core.errors import M_FORBIDDEN, M_UNRECOGNIZED, JsonDict, MatrixError
from core.event_types import M_ROOM_MEMBER
from core.filters import EventFilter
from core.identifiers import RoomId, UserId
from core.search_text import SEARCH_KEYS, SearchQuery, highlights, parse_query
from homeserver.services.common.ratelimit import Limit, RateLimiter
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.event_serializer import EventSerializer
from homeserver.services.rooms.pagination import PaginationService
from homeserver.services.rooms.reads import RoomReadService
from homeserver.services.rooms.state_lookup import StateLookup
from homeserver.services.rooms.visibility import Placed, VisibilityService
from homeserver.services.search.criteria import (
    Cursor,
    EventContextCriteria,
    RoomEventsCriteria,
    decode_cursor,
    encode_cursor,
)
from homeserver.storage.rooms.reads import RoomEvent, RoomReadStore
from homeserver.storage.search.index import Hit, MatchQuery, SearchStore

MAX_SCAN: Final = 1000
_MIN_BATCH: Final = 50


@dataclass(frozen=True, slots=True)
class Found:
    """A result: the index's hit and the event it names."""

    hit: Hit
    row: RoomEvent


@dataclass(frozen=True, slots=True)
class Page:
    """The results of one page, and where the next one starts (None when none is left)."""

    found: list[Found]
    next_cursor: Cursor | None


class SearchService:
    """Answers `/search` from the search index under history visibility."""

    def __init__(
        self,
        *,
        enabled: bool,
        store: SearchStore,
        reads: RoomReadStore,
        visibility: VisibilityService,
        serializer: EventSerializer,
        pagination: PaginationService,
        room_reads: RoomReadService,
        lookup: StateLookup,
        limiter: RateLimiter,
        limit: Limit,
    ) -> None:
        self._enabled = enabled
        self._store = store
        self._reads = reads
        self._visibility = visibility
        self._serializer = serializer
        self._pagination = pagination
        self._room_reads = room_reads
        self._lookup = lookup
        self._limiter = limiter
        self._limit = limit

    async def search(
        self, requester: Requester, criteria: RoomEventsCriteria | None, next_batch: str | None
    ) -> JsonDict:
        """The `/search` response for the `room_events` criteria (None: that category was
        not asked for).

        Raises:
            MatrixError: `M_UNRECOGNIZED` (404) when search is turned off on this server,
                `M_INVALID_PARAM` for a bad `next_batch`, `M_LIMIT_EXCEEDED` when rate-limited.
        """
        if not self._enabled:
            raise MatrixError(M_UNRECOGNIZED, "Search is turned off on this server")
        self._limiter.check("search", requester.user_id, self._limit)
        if criteria is None:
            return {"search_categories": {}}
        cursor = decode_cursor(next_batch, recent=criteria.recent) if next_batch else None
        query = parse_query(criteria.search_term)
        match = _match_query(requester.user_id, criteria, query, cursor)
        if match is None:
            body: JsonDict = {"results": [], "count": 0, "highlights": []}
            return {"search_categories": {"room_events": body}}
        page = await self._page(requester.user_id, match, criteria)
        count = await self._store.count(replace(match, after=None))
        body = await self._body(requester, criteria, query, page, cursor)
        body["count"] = count
        return {"search_categories": {"room_events": body}}

    async def _page(self, user_id: UserId, match: MatchQuery, criteria: RoomEventsCriteria) -> Page:
        """Results in order until the page is full, the matches run out, or `MAX_SCAN`."""
        limit = criteria.limit
        found: list[Found] = []
        if limit == 0:
            return Page(found, None)
        scanned = 0
        batch_size = max(limit * 2, _MIN_BATCH)
        while True:
            hits = await self._store.search(replace(match, limit=batch_size))
            visible = await self._visible(user_id, hits, criteria.event_filter)
            for index, hit in enumerate(hits):
                scanned += 1
                row = visible.get(hit.stream_ordering)
                if row is None:
                    continue
                found.append(Found(hit, row))
                if len(found) == limit:
                    more = index < len(hits) - 1 or len(hits) == batch_size
                    return Page(found, _cursor(match, hit) if more else None)
            if len(hits) < batch_size:
                return Page(found, None)
            if scanned >= MAX_SCAN:
                return Page(found, _cursor(match, hits[-1]))
            match = replace(match, after=(hits[-1].score, hits[-1].stream_ordering))
            # Many hidden matches: fewer, larger rounds (each one ranks its window again).
            batch_size = min(batch_size * 2, MAX_SCAN - scanned)

    async def _visible(
        self, user_id: UserId, hits: Sequence[Hit], event_filter: EventFilter
    ) -> dict[int, RoomEvent]:
        """The hits' events the user may see and the filter lets through."""
        rows = await self._reads.events_by_id([h.event_id for h in hits])
        by_room: dict[RoomId, list[Placed]] = {}
        for hit in hits:
            row = rows.get(hit.event_id)
            if row is None or row.redacted_by is not None or not event_filter.matches(row.raw):
                continue
            pdu = await self._serializer.pdu(row)
            by_room.setdefault(row.room_id, []).append(
                Placed(pdu, row.stream_ordering, row.state_group)
            )
        shown: dict[int, RoomEvent] = {}
        for room_id, candidates in by_room.items():
            for event in await self._visibility.filter_events(user_id, room_id, candidates):
                row = rows[event.pdu.event_id]
                shown[row.stream_ordering] = row
        return shown

    async def _body(
        self,
        requester: Requester,
        criteria: RoomEventsCriteria,
        query: SearchQuery,
        page: Page,
        cursor: Cursor | None,
    ) -> JsonDict:
        rows = [f.row for f in page.found]
        events = await self._serializer.serialize(rows)
        results: list[JsonDict] = []
        for found, event in zip(page.found, events, strict=True):
            result: JsonDict = {"rank": -found.hit.score, "result": event}
            if criteria.context is not None:
                result["context"] = await self._context(requester.user_id, found, criteria.context)
            results.append(result)
        body: JsonDict = {
            "results": results,
            "highlights": highlights((row.raw for row in rows), query),
        }
        group = cursor.group if cursor is not None else None
        if page.next_cursor is not None:
            body["next_batch"] = encode_cursor(replace(page.next_cursor, group=group))
        if criteria.group_by:
            body["groups"] = _groups(criteria.group_by, page)
        if criteria.include_state:
            body["state"] = await self._states(requester, [row.room_id for row in rows])
        return body

    async def _states(self, requester: Requester, room_ids: Sequence[RoomId]) -> JsonDict:
        """The state of each room the user may read (as `/state` shows it: a departed member's
        as of their departure); a room they may not read as a whole is left out."""
        states: JsonDict = {}
        for room_id in dict.fromkeys(room_ids):
            try:
                states[room_id] = await self._room_reads.get_state(requester, room_id)
            except MatrixError as exc:
                if exc.errcode != M_FORBIDDEN:
                    raise
        return states

    async def _context(
        self, user_id: UserId, found: Found, wanted: EventContextCriteria
    ) -> JsonDict:
        try:
            around = await self._pagination.around(
                user_id, found.row, wanted.before_limit, wanted.after_limit
            )
        except MatrixError as exc:
            # An event visible on its own in a room the user may not page through (invited,
            # never joined): the result without its surroundings.
            if exc.errcode != M_FORBIDDEN:
                raise
            return {"events_before": [], "events_after": []}
        context: JsonDict = {
            "start": around.start,
            "end": around.end,
            "events_before": await self._serializer.serialize(around.before),
            "events_after": await self._serializer.serialize(around.after),
        }
        if wanted.include_profile:
            shown = [*around.before, found.row, *around.after]
            context["profile_info"] = await self._profiles(found.row, shown)
        return context

    async def _profiles(self, row: RoomEvent, shown: Sequence[RoomEvent]) -> JsonDict:
        """The display names and avatars the senders of `shown` had at the result."""
        senders = {str(e.raw.get("sender", "")) for e in shown}
        keys = {(M_ROOM_MEMBER, sender) for sender in senders if sender}
        members = (await self._lookup.resolve([row.state_group], keys)).get(row.state_group, {})
        events = await self._reads.events_by_id(members.values())
        profiles: JsonDict = {}
        for (_, sender), event_id in members.items():
            member = events.get(event_id)
            content = member.raw.get("content") if member is not None else None
            if not isinstance(content, dict):
                continue
            profile = {
                key: content[key]
                for key in ("displayname", "avatar_url")
                if isinstance(content.get(key), str)
            }
            profiles[sender] = profile
        return profiles


def _match_query(
    user_id: UserId,
    criteria: RoomEventsCriteria,
    query: SearchQuery,
    cursor: Cursor | None,
) -> MatchQuery | None:
    """What to ask the index, or None when nothing can match."""
    wanted = criteria.event_filter
    keys = list(criteria.keys)
    if wanted.types is not None and not any("*" in t for t in wanted.types):
        keys = [k for k in keys if SEARCH_KEYS[k] in wanted.types]
    keys = [k for k in keys if SEARCH_KEYS[k] not in wanted.not_types]
    if not query.terms or not keys:
        return None
    rooms, senders = wanted.rooms, wanted.senders
    if cursor is not None and cursor.group is not None:
        key, value = cursor.group
        if key == "room_id":
            rooms = (value,) if rooms is None or value in rooms else ()
        else:
            senders = (value,) if senders is None or value in senders else ()
    return MatchQuery(
        query=query,
        user_id=user_id,
        keys=tuple(keys),
        rooms=rooms,
        not_rooms=wanted.not_rooms,
        senders=senders,
        not_senders=wanted.not_senders,
        recent=criteria.recent,
        after=(cursor.score, cursor.stream_ordering) if cursor is not None else None,
    )


def _cursor(match: MatchQuery, hit: Hit) -> Cursor:
    return Cursor(match.recent, hit.score, hit.stream_ordering)


def _groups(group_by: Sequence[str], page: Page) -> JsonDict:
    """`groups.<key>.<value>`: each group's results in page order, its order, and a token to
    continue within it while the page says more may follow."""
    groups: JsonDict = {}
    for key in group_by:
        buckets: dict[str, JsonDict] = {}
        last: dict[str, Hit] = {}
        for found in page.found:
            value = found.row.room_id if key == "room_id" else str(found.row.raw.get("sender"))
            bucket = buckets.setdefault(value, {"results": [], "order": len(buckets) + 1})
            bucket["results"].append(found.row.event_id)
            last[value] = found.hit
        if page.next_cursor is not None:
            for value, bucket in buckets.items():
                hit = last[value]
                cursor = Cursor(page.next_cursor.recent, hit.score, hit.stream_ordering)
                bucket["next_batch"] = encode_cursor(replace(cursor, group=(key, value)))
        groups[key] = buckets
    return groups

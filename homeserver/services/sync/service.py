"""`/sync` (spec: Client-Server API "Syncing"): initial and incremental, long-polling.

An incremental sync with nothing new waits on the notifier under the keys of the user and of
every room the user is in; it never polls the database. The response is rebuilt once woken.
The `next_batch` token is taken before anything is read, so whatever lands while a response is
being built is reported by the next sync, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.errors import JsonDict
from core.event_types import M_ROOM_MEMBER, Membership
from core.filters import Filter
from core.identifiers import DeviceId, RoomId, UserId
from homeserver.caching import CacheRegistry, LruCache
from homeserver.clock import Clock
from homeserver.services.common.notifier import Notifier, room_key, user_key
from homeserver.services.common.stream_token import StreamToken
from homeserver.services.push.rules import PushRuleService
from homeserver.services.push.unread_counts import NotificationService
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.recent_events import RecentEvents
from homeserver.services.rooms.visibility import VisibilityService
from homeserver.services.sync.rooms import RoomSections
from homeserver.services.sync.sources import (
    DeviceSource,
    PresenceSource,
    ReceiptSource,
    TypingSource,
)
from homeserver.storage.accounts.account_data import AccountDataStore
from homeserver.storage.rooms.sync_reads import MembershipRow, SyncStore

MAX_TIMEOUT_MS = 5 * 60 * 1000
MEMBERSHIP_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A parsed `/sync` request."""

    user_id: UserId
    device_id: DeviceId
    since: StreamToken | None
    timeout_ms: int
    full_state: bool
    filter: Filter
    set_presence: str | None


@dataclass(frozen=True, slots=True)
class EphemeralSources:
    """The typing, receipt and presence services."""

    typing: TypingSource
    receipts: ReceiptSource
    presence: PresenceSource


class SyncService:
    """Builds sync responses and waits for news."""

    def __init__(
        self,
        *,
        store: SyncStore,
        account_data: AccountDataStore,
        events: EventService,
        recent: RecentEvents,
        notifier: Notifier,
        ephemeral: EphemeralSources,
        visibility: VisibilityService,
        clock: Clock,
        caches: CacheRegistry,
        unread: NotificationService | None = None,
        push_rules: PushRuleService | None = None,
        devices: DeviceSource | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._account_data = account_data
        self._notifier = notifier
        self._recent = recent
        self._ephemeral = ephemeral
        self._clock = clock
        self._push_rules = push_rules
        # Self-validating: each entry carries the notifier version of the user's key.
        self._membership_cache: LruCache[UserId, tuple[int, list[MembershipRow]]] = caches.lru(
            "sync_memberships", MEMBERSHIP_CACHE_SIZE
        )
        self._unread = unread  # push: unread_notifications counts
        self._devices = devices  # e2ee: to-device, device lists, one-time key counts
        self._rooms = RoomSections(
            store=store, events=events, recent=recent, visibility=visibility, clock=clock
        )

    async def sync(self, request: SyncRequest) -> JsonDict:
        """Answer a sync request, waiting up to its timeout when there is nothing new."""
        presence = self._ephemeral.presence
        await presence.on_sync(request.user_id, request.set_presence)
        try:
            return await self._sync(request)
        finally:
            if request.set_presence != "offline":
                presence.sync_finished(request.user_id)

    async def _sync(self, request: SyncRequest) -> JsonDict:
        version = self._notifier.version
        response, room_ids = await self._build(request)
        if request.since is None or request.full_state or _has_news(response):
            return response
        deadline = self._clock.monotonic() + min(request.timeout_ms, MAX_TIMEOUT_MS) / 1000
        while (remaining := deadline - self._clock.monotonic()) > 0:
            keys = [user_key(request.user_id), *(room_key(r) for r in room_ids)]
            woken = await self._notifier.wait(keys, remaining, after_version=version)
            if not woken:
                break
            version = self._notifier.version
            response, room_ids = await self._build(request)
            if _has_news(response):
                break
        return response

    async def _now(self) -> StreamToken:
        devices = self._devices
        to_device, device_lists = await devices.current_positions() if devices else (0, 0)
        return StreamToken(
            # The cache's head, not the database's: it advances only once every event up to
            # it has been handed to the cache and the notifier, in order.
            events=self._recent.position,
            account_data=await self._store.account_data_position(),
            receipts=await self._ephemeral.receipts.current_position(),
            typing=self._ephemeral.typing.current_position(),
            presence=await self._ephemeral.presence.current_position(),
            to_device=to_device,
            device_lists=device_lists,
            unread=self._unread.processed_position() if self._unread is not None else 0,
        )

    async def _build(self, request: SyncRequest) -> tuple[JsonDict, list[RoomId]]:
        now = await self._now()
        since = request.since
        memberships = [
            m
            for m in await self._memberships(request.user_id)
            if m.stream_ordering <= now.events and request.filter.room.allows_room(m.room_id)
        ]
        rooms: JsonDict = {"join": {}, "invite": {}, "leave": {}, "knock": {}}
        joined = [m.room_id for m in memberships if m.membership == Membership.JOIN]
        for m in memberships:
            section = await self._room_section(request, m, since, now)
            if section is not None:
                rooms[_SECTION[m.membership]][m.room_id] = section
        account_data = await self._account_data_since(request.user_id, since, now)
        await self._add_room_extras(request, rooms["join"], joined, since, now, account_data)
        e2ee: JsonDict = {}
        to_device = now.to_device
        if self._devices is not None:
            e2ee, to_device = await self._devices.sync_fields(
                request.user_id, request.device_id, since, now
            )
        response: JsonDict = {
            "next_batch": replace(now, to_device=to_device).serialize(),
            "rooms": rooms,
            "account_data": {
                "events": await self._global_account_data(request, since, account_data)
            },
            "presence": {
                "events": await self._presence(request, since, now, _new_members(rooms["join"]))
            },
            **e2ee,
        }
        watched = joined + [
            m.room_id for m in memberships if m.membership in (Membership.INVITE, Membership.KNOCK)
        ]
        return response, watched

    async def _memberships(self, user_id: UserId) -> list[MembershipRow]:
        """The user's memberships, cached until the notifier reports a change for the user
        (every membership event notifies its target's key)."""
        version = self._notifier.last_version(user_key(user_id))
        cached = self._membership_cache.get(user_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = await self._store.memberships_of(user_id)
        self._membership_cache.put(user_id, (version, rows))
        return rows

    async def _room_section(
        self, request: SyncRequest, m: MembershipRow, since: StreamToken | None, now: StreamToken
    ) -> JsonDict | None:
        changed = since is None or m.stream_ordering > since.events
        if m.membership == Membership.JOIN:
            # A new or changed membership (or full_state) gets the whole state and a timeline
            # from the start of the stream; otherwise only what came since `since`.
            state_since = None if changed or request.full_state or since is None else since.events
            timeline = await self._rooms.timeline(
                request.user_id,
                m.room_id,
                (state_since or 0, now.events),
                request.filter.room.timeline_limit,
                m.stream_ordering,
            )
            return await self._rooms.joined_section(
                m.room_id,
                request.user_id,
                timeline,
                state_since,
                now.events,
                request.filter,
                request.device_id,
            )
        if m.membership in (Membership.INVITE, Membership.KNOCK):
            if not changed and not request.full_state:
                return None
            found = await self._events.get_pdus([m.event_id])
            member = found[0] if found else None
            key = "invite_state" if m.membership == Membership.INVITE else "knock_state"
            return {key: {"events": await self._rooms.stripped_state(m.room_id, member)}}
        if m.forgotten or (since is None and not request.filter.room.include_leave):
            return None
        if not changed and not request.full_state:
            return None
        after = since.events if since is not None else 0
        return await self._rooms.left_section(
            m.room_id, request.user_id, after, m.stream_ordering, request.filter
        )

    async def _add_room_extras(
        self,
        request: SyncRequest,
        joined: JsonDict,
        room_ids: list[RoomId],
        since: StreamToken | None,
        now: StreamToken,
        account_data: list[tuple[RoomId | None, str, JsonDict]],
    ) -> None:
        """Ephemeral events, room account data and counts; drops rooms with nothing new."""
        typing = self._ephemeral.typing
        typing_rooms = set(room_ids) if since is None else typing.rooms_changed_since(since.typing)
        receipts: dict[RoomId, JsonDict] = {}
        if since is None or since.receipts < now.receipts:
            receipts = await self._ephemeral.receipts.receipt_events(
                room_ids, since.receipts if since else 0, now.receipts, request.user_id
            )
        room_data: dict[RoomId, list[JsonDict]] = {}
        for room_id, data_type, content in account_data:
            if room_id is not None:
                room_data.setdefault(room_id, []).append({"type": data_type, "content": content})
        ephemeral_filter = request.filter.room.ephemeral
        for room_id in room_ids:
            section = joined.setdefault(room_id, _empty_joined(since))
            events: list[JsonDict] = []
            if room_id in typing_rooms:
                typing_event = typing.typing_event(room_id)
                if since is not None or typing_event["content"]["user_ids"]:
                    events.append(typing_event)
            if room_id in receipts:
                events.append(receipts[room_id])
            section["ephemeral"] = {"events": [e for e in events if ephemeral_filter.matches(e)]}
            section["account_data"] = {
                "events": [
                    e
                    for e in room_data.get(room_id, [])
                    if request.filter.room.account_data.matches(e)
                ]
            }
        recounted = await self._recounted_rooms(request.user_id, since, now)
        for room_id in room_ids:
            section = joined[room_id]
            quiet = not _room_has_news(section) and room_id not in recounted
            if since is not None and not request.full_state and quiet:
                del joined[room_id]
        await self._add_unread_counts(request.user_id, joined, room_ids)

    async def _recounted_rooms(
        self, user_id: UserId, since: StreamToken | None, now: StreamToken
    ) -> set[RoomId]:
        """Rooms whose counts push evaluation raised since the token.

        Evaluation runs behind the send path, so a count can move after its event was
        delivered; the `unread` position of the token reports it then, without making any
        sync wait for the evaluation.
        """
        if self._unread is None or since is None:
            return set()
        return await self._unread.rooms_changed(user_id, since.unread, now.unread)

    async def _add_unread_counts(
        self, user_id: UserId, joined: JsonDict, room_ids: list[RoomId]
    ) -> None:
        """Notification counts of the rooms being reported (those of `room_ids` in `joined`)."""
        reported = [room_id for room_id in room_ids if room_id in joined]
        counts: dict[RoomId, tuple[int, int]] = {}
        if self._unread is not None and reported:
            counts = await self._unread.counts(user_id, reported)
        for room_id in reported:
            notifications, highlights = counts.get(room_id, (0, 0))
            joined[room_id].setdefault(
                "unread_notifications",
                {"notification_count": notifications, "highlight_count": highlights},
            )

    async def _account_data_since(
        self, user_id: UserId, since: StreamToken | None, now: StreamToken
    ) -> list[tuple[RoomId | None, str, JsonDict]]:
        if since is not None and since.account_data >= now.account_data:
            return []
        return await self._account_data.get_all(user_id, since.account_data if since else 0)

    async def _global_account_data(
        self,
        request: SyncRequest,
        since: StreamToken | None,
        entries: list[tuple[RoomId | None, str, JsonDict]],
    ) -> list[JsonDict]:
        events = [
            {"type": data_type, "content": content}
            for room_id, data_type, content in entries
            if room_id is None and request.filter.account_data.matches({"type": data_type})
        ]
        wants_rules = request.filter.account_data.matches({"type": "m.push_rules"})
        if since is None and self._push_rules is not None and wants_rules:
            # Clients need the rules at start-up even when the user never changed them.
            events = [e for e in events if e["type"] != "m.push_rules"]
            events.append(await self._push_rules.account_data_event(request.user_id))
        return events

    async def _presence(
        self,
        request: SyncRequest,
        since: StreamToken | None,
        now: StreamToken,
        new_members: set[UserId],
    ) -> list[JsonDict]:
        """Presence changes since the token, plus the current presence of people who have just
        come to share a room with the user (their presence may not have changed for long)."""
        presence = self._ephemeral.presence
        events: list[JsonDict] = []
        if since is None or since.presence < now.presence:
            events = await presence.presence_events(
                request.user_id, since.presence if since else 0, now.presence
            )
        if since is not None:
            new_members.discard(request.user_id)
            new_members.difference_update(e["sender"] for e in events)
            events += await presence.current_presence_events(sorted(new_members))
        return [e for e in events if request.filter.presence.matches(e)]


def _new_members(joined_rooms: JsonDict) -> set[UserId]:
    """Users whose join appears in the state or timeline of these joined-room sections."""
    users: set[UserId] = set()
    for section in joined_rooms.values():
        for part in ("state", "timeline"):
            for event in section.get(part, {}).get("events", ()):
                if (
                    event.get("type") == M_ROOM_MEMBER
                    and event.get("content", {}).get("membership") == Membership.JOIN
                    and isinstance(event.get("state_key"), str)
                ):
                    users.add(UserId(event["state_key"]))
    return users


_SECTION = {"join": "join", "invite": "invite", "knock": "knock", "leave": "leave", "ban": "leave"}


def _empty_joined(since: StreamToken | None) -> JsonDict:
    return {
        "timeline": {
            "events": [],
            "limited": False,
            "prev_batch": f"t{since.events if since else 0}",
        },
        "state": {"events": []},
    }


def _room_has_news(section: JsonDict) -> bool:
    return bool(
        section["timeline"]["events"]
        or section["state"]["events"]
        or section["ephemeral"]["events"]
        or section["account_data"]["events"]
    )


def _has_news(response: JsonDict) -> bool:
    rooms = response["rooms"]
    return bool(
        any(rooms[kind] for kind in ("join", "invite", "leave", "knock"))
        or response["account_data"]["events"]
        or response["presence"]["events"]
        or response.get("to_device", {}).get("events")
        or any(response.get("device_lists", {}).values())
    )

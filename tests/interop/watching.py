"""Following a client's `/sync` in the interop tests, on either server.

`SyncWatcher` long-polls one client's `/sync` incrementally and keeps what arrived: the
events of joined rooms (timeline and state), their typing users and read receipts, the
stripped state of the rooms invited to, and the rooms left.
`until` waits (through `tests.waiting.wait_for`) until a condition on those holds.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from core.errors import JsonDict
from tests.http_client import ApiClient
from tests.waiting import wait_for

_POLL_MS = 1000
# Every event of a room since the last sync, not only the latest few (no gaps to fill).
_FILTER = {"room": {"timeline": {"limit": 500}}}


class SyncWatcher:
    """What one client has seen through its `/sync` so far."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.since: str | None = None
        self.events: dict[str, list[JsonDict]] = {}
        self.invites: dict[str, list[JsonDict]] = {}
        self.left: set[str] = set()
        self.typing: dict[str, list[str]] = {}
        self.receipts: dict[str, dict[str, dict[str, JsonDict]]] = {}

    async def step(self) -> None:
        """One `/sync` (a long poll once the first is done), recorded."""
        timeout_ms = 0 if self.since is None else _POLL_MS
        body = await self.client.sync(self.since, timeout_ms=timeout_ms, filter=_FILTER)
        self.since = body["next_batch"]
        rooms = body.get("rooms", {})
        for room_id, room in rooms.get("join", {}).items():
            seen = self.events.setdefault(room_id, [])
            seen += room.get("state", {}).get("events", [])
            seen += room.get("timeline", {}).get("events", [])
            self._ephemeral(room_id, room.get("ephemeral", {}).get("events", []))
        for room_id, room in rooms.get("invite", {}).items():
            self.invites[room_id] = room.get("invite_state", {}).get("events", [])
        self.left |= set(rooms.get("leave", {}))

    def _ephemeral(self, room_id: str, events: list[JsonDict]) -> None:
        for event in events:
            if event["type"] == "m.typing":
                self.typing[room_id] = list(event["content"].get("user_ids", []))
            elif event["type"] == "m.receipt":
                receipts = self.receipts.setdefault(room_id, {})
                for event_id, kinds in event["content"].items():
                    for kind, users in kinds.items():
                        receipts.setdefault(event_id, {}).setdefault(kind, {}).update(users)

    def read_by(self, room_id: str, event_id: str, kind: str = "m.read") -> set[str]:
        """The users seen with a receipt of `kind` on an event."""
        return set(self.receipts.get(room_id, {}).get(event_id, {}).get(kind, {}))

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Sync until `condition` holds."""

        async def reached() -> bool:
            if condition():
                return True
            await self.step()
            return condition()

        await wait_for(reached, what=f"{what} in {self.client.user_id}'s sync")

    def messages(self, room_id: str) -> list[str]:
        """The bodies of the `m.room.message` events seen in a room."""
        events = self.events.get(room_id, [])
        return [e["content"].get("body", "") for e in events if e["type"] == "m.room.message"]

    def state(self, room_id: str, event_type: str, state_key: str = "") -> JsonDict | None:
        """The content of the latest state event seen of that type and key, if any."""
        found = None
        for event in self.events.get(room_id, []):
            if event["type"] == event_type and event.get("state_key") == state_key:
                found = event["content"]
        return found

    def membership(self, room_id: str, user_id: str) -> str | None:
        """The latest membership of `user_id` seen in a room."""
        content = self.state(room_id, "m.room.member", user_id)
        return None if content is None else str(content.get("membership"))

    async def until_message(self, room_id: str, body: str) -> None:
        """Sync until a message with `body` arrives in the room."""
        await self.until(lambda: body in self.messages(room_id), f"message {body!r}")

    async def until_member(self, room_id: str, user_id: str, membership: str) -> None:
        """Sync until `user_id`'s membership in the room is `membership`."""
        await self.until(
            lambda: self.membership(room_id, user_id) == membership,
            f"{user_id} {membership}",
        )

    async def until_state(
        self, room_id: str, event_type: str, content: JsonDict, state_key: str = ""
    ) -> None:
        """Sync until the room's state event of that type has `content`, then check the
        server's `/state` answers the same."""
        await self.until(
            lambda: self.state(room_id, event_type, state_key) == content,
            f"{event_type} {content}",
        )
        path = f"/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}"
        answer = await self.client.ok("GET", path)
        assert answer == content, (self.client.base, event_type, answer)

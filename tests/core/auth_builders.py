"""Builders for authorisation rule tests: plain event dicts wrapped in `Pdu`, and a room state.

Event IDs are fake (`$create`, `$3`, ...); the auth rules never derive them.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from core.auth_rules import check_auth
from core.events import Pdu
from core.room_versions import V10, V11, RoomVersion

ROOM = "!room:a.test"
ALICE = "@alice:a.test"  # the creator
BOB = "@bob:b.test"
CAROL = "@carol:a.test"
DAVE = "@dave:c.test"

VERSIONS = [V10, V11]
# A version before knocking and restricted joins existed, to exercise the flags.
NO_KNOCK = dataclasses.replace(
    V10,
    identifier="test-no-knock",
    knock_join_rule=False,
    restricted_join_rule=False,
    knock_restricted_join_rule=False,
)
# A version before integer power levels were enforced (string levels allowed).
STRINGY = dataclasses.replace(V10, identifier="test-stringy", integer_power_levels=False)

_ids = itertools.count()


def pdu(
    event_type: str,
    sender: str,
    content: dict[str, Any],
    *,
    version: RoomVersion = V11,
    state_key: str | None = None,
    event_id: str | None = None,
    prev_events: list[str] | None = None,
    room_id: str = ROOM,
    **extra: Any,
) -> Pdu:
    """A PDU from its parts; `extra` adds top-level fields."""
    raw: dict[str, Any] = {
        "type": event_type,
        "sender": sender,
        "content": content,
        "room_id": room_id,
        "prev_events": prev_events if prev_events is not None else ["$prev"],
        "auth_events": [],
        "depth": 5,
        "origin_server_ts": 0,
        **extra,
    }
    if state_key is not None:
        raw["state_key"] = state_key
    return Pdu(raw, event_id or f"${next(_ids)}", version)


def create_event(version: RoomVersion, creator: str = ALICE, **content: Any) -> Pdu:
    """The create event a server of this version would send (v12: without a room ID)."""
    body: dict[str, Any] = {"room_version": version.identifier, **content}
    if not version.implicit_room_creator:
        body.setdefault("creator", creator)
    event = pdu(
        "m.room.create",
        creator,
        body,
        version=version,
        state_key="",
        event_id="$create",
        prev_events=[],
    )
    if version.room_id_from_create_event:
        del event.raw["room_id"]
    return event


def room_id_for(version: RoomVersion) -> str:
    """The room ID of rooms built here: fixed, or named by `$create` in v12."""
    return "!create" if version.room_id_from_create_event else ROOM


class Room:
    """Room state for auth checks: a dict keyed by `(type, state_key)` plus event builders."""

    def __init__(self, version: RoomVersion, creator: str = ALICE, **create_content: Any) -> None:
        self.version = version
        self.creator = creator
        self.create = create_event(version, creator, **create_content)
        self.state: dict[tuple[str, str], Pdu] = {("m.room.create", ""): self.create}

    @classmethod
    def standard(
        cls,
        version: RoomVersion,
        join_rule: str | None = "invite",
        users: dict[str, int] | None = None,
        **power_levels: Any,
    ) -> Room:
        """Alice created it and joined, power levels give her 100, then the join rule."""
        room = cls(version)
        room.member(ALICE, "join")
        room.power_levels(users=users or {ALICE: 100}, **power_levels)
        if join_rule is not None:
            room.join_rules(join_rule)
        return room

    def event(
        self,
        event_type: str,
        sender: str,
        content: dict[str, Any] | None = None,
        state_key: str | None = None,
        **kwargs: Any,
    ) -> Pdu:
        """A new event in this room (not added to the state)."""
        kwargs.setdefault("room_id", room_id_for(self.version))
        return pdu(
            event_type, sender, content or {}, version=self.version, state_key=state_key, **kwargs
        )

    def put(self, event: Pdu) -> Pdu:
        """Add a state event to the state."""
        pair = event.state_pair()
        assert pair is not None
        self.state[pair] = event
        return event

    def set(
        self, event_type: str, state_key: str, content: dict[str, Any], sender: str = ALICE
    ) -> Pdu:
        return self.put(self.event(event_type, sender, content, state_key))

    def member(self, user: str, membership: str, sender: str | None = None, **content: Any) -> Pdu:
        return self.set(
            "m.room.member", user, {"membership": membership, **content}, sender or user
        )

    def power_levels(self, **content: Any) -> Pdu:
        return self.set("m.room.power_levels", "", content)

    def join_rules(self, rule: str, **content: Any) -> Pdu:
        return self.set("m.room.join_rules", "", {"join_rule": rule, **content})

    def membership_event(
        self,
        sender: str,
        target: str,
        membership: str,
        *,
        prev_events: list[str] | None = None,
        **content: Any,
    ) -> Pdu:
        """A new `m.room.member` event; `content` adds to its content."""
        body = {"membership": membership, **content}
        return self.event("m.room.member", sender, body, target, prev_events=prev_events)

    def check(self, event: Pdu) -> None:
        """`check_auth` against this state."""
        check_auth(event, self.state)

"""Room creation (spec: `POST /createRoom`): the create event, the creator's join, power levels,
aliases, preset state, initial state, name, topic and invites, in the order the spec gives.

Everything the request asks for is checked before the room exists: the content of each event
(`event_input`), the alias and invitees, and the whole event sequence against the auth rules
(`creation_check`, 400 `M_INVALID_ROOM_STATE`). The alias is then claimed, and a failure after
that (storage, a race) rolls back: the alias is freed and the creator leaves.

The create event is built and signed before anything else, because in room version 12 the room
ID is its reference hash (and the event itself carries no `room_id`). Creators (the sender and
`additional_creators`) then have unlimited power and are never listed in the power levels.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from core.errors import (
    M_INVALID_PARAM,
    M_ROOM_IN_USE,
    M_UNKNOWN,
    M_UNSUPPORTED_ROOM_VERSION,
    JsonDict,
    MatrixError,
)
from core.event_types import (
    M_ROOM_AVATAR,
    M_ROOM_CANONICAL_ALIAS,
    M_ROOM_CREATE,
    M_ROOM_ENCRYPTION,
    M_ROOM_GUEST_ACCESS,
    M_ROOM_HISTORY_VISIBILITY,
    M_ROOM_JOIN_RULES,
    M_ROOM_MEMBER,
    M_ROOM_NAME,
    M_ROOM_POWER_LEVELS,
    M_ROOM_SERVER_ACL,
    M_ROOM_TOMBSTONE,
    M_ROOM_TOPIC,
    JoinRule,
    Membership,
)
from core.events import Pdu
from core.identifiers import RoomId, UserId, parse_room_id, parse_user_id
from core.room_versions import DEFAULT_ROOM_VERSION, RoomVersion, get_room_version
from homeserver.clock import Clock
from homeserver.services.common.params import checked_room_alias
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.creation_check import InitialEvent, check_initial_events
from homeserver.services.rooms.event_input import check_events_input
from homeserver.services.rooms.events import EventService, NewEvent
from homeserver.services.rooms.membership import MembershipService
from homeserver.storage.rooms.aliases import AliasStore
from homeserver.storage.rooms.events import EventStore

logger = logging.getLogger(__name__)

PRESETS = ("private_chat", "public_chat", "trusted_private_chat")
# Tries at a free room ID; v12 IDs hash the create event, so a retry moves its timestamp on.
_ROOM_ID_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class _Plan:
    """The events createRoom sends as the creator, in order.

    Attributes:
        create: The `m.room.create` content (sent first, before the creator's join).
        state: The state events after the join: power levels, canonical alias, preset and
            initial state, name and topic.
        invites: The users invited last.
        is_direct: Whether the invites are marked `is_direct`.
    """

    create: JsonDict
    state: tuple[InitialEvent, ...]
    invites: tuple[str, ...]
    is_direct: bool

    def events(self, creator: str) -> list[InitialEvent]:
        """Every event createRoom sends, the creator's join and the invites included."""
        invite: JsonDict = {"membership": Membership.INVITE}
        if self.is_direct:
            invite["is_direct"] = True
        return [
            (M_ROOM_CREATE, "", self.create),
            (M_ROOM_MEMBER, creator, {"membership": Membership.JOIN}),
            *self.state,
            *((M_ROOM_MEMBER, user_id, invite) for user_id in self.invites),
        ]


@dataclass(frozen=True, slots=True)
class CreateRoomRequest:
    """The validated body of `POST /createRoom`."""

    visibility: str = "private"
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: tuple[str, ...] = ()
    room_version: str | None = None
    creation_content: JsonDict = field(default_factory=dict)
    initial_state: tuple[tuple[str, str, JsonDict], ...] = ()
    preset: str | None = None
    is_direct: bool = False
    power_level_content_override: JsonDict | None = None


def default_power_levels(
    creator: UserId, extra_admins: tuple[str, ...], version: RoomVersion
) -> JsonDict:
    """The power levels a new room starts with.

    With privileged creators (v12) the creators already outrank every level and may not be
    listed in `users` (the trusted invitees are additional creators instead), and upgrading
    the room (`m.room.tombstone`) needs more than an ordinary admin's 100, as the spec asks.
    """
    if version.privileged_creators:
        users: dict[str, int] = {}
        tombstone = 150
    else:
        users = {creator: 100, **dict.fromkeys(extra_admins, 100)}
        tombstone = 100
    return {
        "users": users,
        "users_default": 0,
        "events": {
            M_ROOM_NAME: 50,
            M_ROOM_POWER_LEVELS: 100,
            M_ROOM_HISTORY_VISIBILITY: 100,
            M_ROOM_CANONICAL_ALIAS: 50,
            M_ROOM_AVATAR: 50,
            M_ROOM_TOMBSTONE: tombstone,
            M_ROOM_SERVER_ACL: 100,
            M_ROOM_ENCRYPTION: 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
        "notifications": {"room": 50},
    }


def _preset_state(preset: str) -> list[tuple[str, JsonDict]]:
    join_rule = JoinRule.PUBLIC if preset == "public_chat" else JoinRule.INVITE
    guest = "forbidden" if preset == "public_chat" else "can_join"
    return [
        (M_ROOM_JOIN_RULES, {"join_rule": join_rule}),
        (M_ROOM_HISTORY_VISIBILITY, {"history_visibility": "shared"}),
        (M_ROOM_GUEST_ACCESS, {"guest_access": guest}),
    ]


class RoomService:
    """Creates rooms."""

    def __init__(
        self,
        *,
        server_name: str,
        events: EventService,
        membership: MembershipService,
        store: EventStore,
        aliases: AliasStore,
        clock: Clock,
        default_version: RoomVersion = DEFAULT_ROOM_VERSION,
    ) -> None:
        self._server_name = server_name
        self._default_version = default_version
        self._events = events
        self._membership = membership
        self._store = store
        self._aliases = aliases
        self._clock = clock

    async def create_room(self, requester: Requester, request: CreateRoomRequest) -> JsonDict:
        """Create a room as the spec lays out; returns `{"room_id", "room_alias"?}`."""
        version = (
            self._default_version
            if request.room_version is None
            else get_room_version(request.room_version)
        )
        if version is None:
            raise MatrixError(M_UNSUPPORTED_ROOM_VERSION, "Unsupported room version")
        check_events_input(_requested_events(request))  # refuse before anything is written
        alias = self._alias_for(request.room_alias_name)
        for user_id in request.invite:
            self._membership.check_user_id(user_id)
        plan = _plan(request, version, requester.user_id, alias)
        create = await self._create_event(requester.user_id, plan.create, version)
        room_id = create.room_id
        check_initial_events(version, room_id, requester.user_id, plan.events(requester.user_id))
        # The alias is claimed before anything else is written, so of racing requests for one
        # alias the losers leave nothing behind; a failure further on gives it back.
        if alias is not None and not await self._aliases.create_alias(
            alias, room_id, requester.user_id
        ):
            raise MatrixError(M_ROOM_IN_USE, "Room alias already taken")
        is_public = request.visibility == "public"
        now = self._clock.time_ms()
        if not await self._store.create_room(
            room_id, version.identifier, requester.user_id, is_public, now
        ):
            await self._abandon(None, room_id, alias)
            raise MatrixError(M_UNKNOWN, "Could not allocate a room ID", status=500)
        try:
            await self._build(requester, plan, create)
        except Exception:
            await self._abandon(requester, room_id, alias)
            raise
        body: JsonDict = {"room_id": room_id}
        if alias is not None:
            body["room_alias"] = alias
        return body

    async def _create_event(self, creator: UserId, content: JsonDict, version: RoomVersion) -> Pdu:
        """The new room's signed create event, whose room ID no room has yet."""
        not_before = 0
        for _ in range(_ROOM_ID_ATTEMPTS):
            room_id = None
            if not version.room_id_from_create_event:
                room_id = _new_room_id(self._server_name)
            pdu = self._events.build_create(
                creator, content, version, room_id=room_id, not_before_ms=not_before
            )
            if await self._store.room_version(pdu.room_id) is None:
                return pdu
            not_before = pdu.origin_server_ts + 1
        raise MatrixError(M_UNKNOWN, "Could not allocate a room ID", status=500)

    async def _build(self, requester: Requester, plan: _Plan, create: Pdu) -> None:
        """Send the room's events in the spec's order."""
        creator, room_id = requester.user_id, create.room_id
        await self._events.send_create(create)
        await self._membership.join_new_room(requester, room_id)
        for event_type, state_key, content in plan.state:
            await self._send(room_id, creator, event_type, content, state_key)
        for user_id in plan.invites:
            target = self._membership.check_user_id(user_id)
            await self._membership.invite(requester, room_id, target, None, plan.is_direct)

    async def _abandon(self, creator: Requester | None, room_id: RoomId, alias: str | None) -> None:
        """Undo a createRoom that failed part-way: free the alias, take the creator out."""
        logger.info("createRoom failed; rolling back room_id=%s", room_id)
        try:
            if alias is not None:
                await self._aliases.delete_alias(alias)
            if creator is not None:
                with contextlib.suppress(MatrixError):  # the creator may never have joined
                    await self._membership.leave(creator, room_id, None)
        except Exception:  # the original failure is the one to report
            logger.exception("createRoom rollback failed room_id=%s", room_id)

    async def _send(
        self, room_id: RoomId, sender: UserId, event_type: str, content: JsonDict, state_key: str
    ) -> None:
        await self._events.send(NewEvent(room_id, sender, event_type, content, state_key))

    def _alias_for(self, alias_name: str | None) -> str | None:
        if alias_name is None:
            return None
        return checked_room_alias(f"#{alias_name}:{self._server_name}")


def _plan(
    request: CreateRoomRequest, version: RoomVersion, creator: UserId, alias: str | None
) -> _Plan:
    """The events createRoom will send for `request` (pure: also what is checked up front)."""
    preset = request.preset or ("public_chat" if request.visibility == "public" else "private_chat")
    create: dict[str, Any] = {**request.creation_content}
    create["room_version"] = version.identifier
    if not version.implicit_room_creator:
        create["creator"] = creator
    else:
        create.pop("creator", None)
    trusted = request.invite if preset == "trusted_private_chat" else ()
    if version.privileged_creators:
        # The spec: trusted invitees join `additional_creators` rather than the power levels.
        extra = [*_additional_creators(request.creation_content), *trusted]
        if extra:
            create["additional_creators"] = list(dict.fromkeys(extra))
    levels = default_power_levels(creator, trusted, version)
    if request.power_level_content_override:
        levels.update(request.power_level_content_override)
    state: list[InitialEvent] = [(M_ROOM_POWER_LEVELS, "", levels)]
    if alias is not None:
        state.append((M_ROOM_CANONICAL_ALIAS, "", {"alias": alias}))
    state.extend(_initial_state(preset, request))
    return _Plan(create, tuple(state), request.invite, request.is_direct)


def _additional_creators(creation_content: JsonDict) -> list[str]:
    """`creation_content.additional_creators`, checked to be a list of user IDs.

    Raises:
        MatrixError: `M_INVALID_PARAM` if it is not a list of valid user IDs.
    """
    value = creation_content.get("additional_creators", [])
    if not isinstance(value, list) or not all(isinstance(user, str) for user in value):
        raise MatrixError(M_INVALID_PARAM, "additional_creators must be a list of user IDs")
    for user in value:
        try:
            parse_user_id(user)
        except ValueError as exc:
            raise MatrixError(
                M_INVALID_PARAM, f"additional_creators has an invalid user ID: {exc}"
            ) from None
    return list(value)


def _initial_state(preset: str, request: CreateRoomRequest) -> list[InitialEvent]:
    """Preset state, then `initial_state` over it, then name and topic over both."""
    state: dict[tuple[str, str], JsonDict] = {
        (event_type, ""): content for event_type, content in _preset_state(preset)
    }
    for event_type, state_key, content in request.initial_state:
        state[(event_type, state_key)] = content
    if request.name is not None:
        state[(M_ROOM_NAME, "")] = {"name": request.name}
    if request.topic is not None:
        state[(M_ROOM_TOPIC, "")] = {"topic": request.topic}
    return [(event_type, key, content) for (event_type, key), content in state.items()]


def _new_room_id(server_name: str) -> RoomId:
    """A fresh random room ID (18 letters: a collision is not a practical concern)."""
    localpart = "".join(secrets.choice(string.ascii_letters) for _ in range(18))
    return parse_room_id(f"!{localpart}:{server_name}")


def _requested_events(request: CreateRoomRequest) -> list[tuple[str, str | None, JsonDict]]:
    """The client-supplied parts of the events createRoom will send."""
    events: list[tuple[str, str | None, JsonDict]] = [(M_ROOM_CREATE, "", request.creation_content)]
    if request.power_level_content_override:
        events.append((M_ROOM_POWER_LEVELS, "", request.power_level_content_override))
    events.extend(request.initial_state)
    if request.name is not None:
        events.append((M_ROOM_NAME, "", {"name": request.name}))
    if request.topic is not None:
        events.append((M_ROOM_TOPIC, "", {"topic": request.topic}))
    return events

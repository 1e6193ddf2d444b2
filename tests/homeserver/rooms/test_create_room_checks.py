"""createRoom refuses what the auth rules would refuse before the room exists, and rolls back a
failure that comes later. Spec: Client-Server API `POST /createRoom` (400 `M_INVALID_ROOM_STATE`:
"the initial state implied by the parameters to the request is invalid").
"""

from __future__ import annotations

import aiohttp
import pytest

from core.errors import JsonDict
from core.event_types import M_ROOM_TOPIC
from core.identifiers import DeviceId, RoomId, UserId
from homeserver.api.http import SERVICES
from homeserver.app import STORES
from homeserver.services.common.requester import Requester
from homeserver.services.rooms.creation import CreateRoomRequest, RoomService
from homeserver.services.rooms.events import EventService, NewEvent, SentEvent
from homeserver.storage.rooms.events import TxnKey
from tests.conftest import LiveServer
from tests.homeserver.api.helpers import CLIENT, JsonBody, call, register
from tests.homeserver.rooms.directory_helpers import alias_url

ALICE = "@alice:localhost"
TAKE_ALICES_POWER = {"users": {}, "state_default": 50}
# Room versions before 12 rank the creator by the power levels; from 12 creators outrank them.
PRE_V12 = {"room_version": "11"}

REFUSED: list[JsonBody] = [
    # Power levels that leave alice too weak for the canonical alias and preset state after them.
    {"room_alias_name": "kept", "power_level_content_override": TAKE_ALICES_POWER, **PRE_V12},
    # Room version 12: power levels may not list a creator (the sender or an additional one).
    {"power_level_content_override": {"users": {ALICE: 100}}, "room_version": "12"},
    {
        "creation_content": {"additional_creators": ["@bob:localhost"]},
        "power_level_content_override": {"users": {"@bob:localhost": 50}},
        "room_version": "12",
    },
    # Levels that are not integers, or name someone who is not a user (rule 9).
    {"power_level_content_override": {"ban": "50"}},
    {"power_level_content_override": {"users": {"not a user": 50}}},
    {"power_level_content_override": {"events": {"m.room.name": [1]}}},
    # initial_state power levels lowering alice below the name she then sets.
    {
        "name": "Too late",
        "initial_state": [
            {"type": "m.room.power_levels", "state_key": "", "content": {"users": {ALICE: 10}}}
        ],
    },
    {
        "initial_state": [
            {"type": "m.room.power_levels", "state_key": "", "content": {"kick": "one"}}
        ]
    },
    # State alice may not send: someone else's membership, someone else's state key, a second
    # create event, and leaving her own room before the rest of its state.
    {
        "initial_state": [
            {
                "type": "m.room.member",
                "state_key": "@bob:localhost",
                "content": {"membership": "join"},
            }
        ]
    },
    {"initial_state": [{"type": "org.example.note", "state_key": "@bob:localhost", "content": {}}]},
    {"initial_state": [{"type": "m.room.create", "state_key": "", "content": {}}]},
    {
        "name": "After leaving",
        "initial_state": [
            {"type": "m.room.member", "state_key": ALICE, "content": {"membership": "leave"}}
        ],
    },
    # Invites alice's own levels forbid.
    {"invite": ["@bob:localhost"], "power_level_content_override": {"invite": 101}, **PRE_V12},
]


async def counts(server: LiveServer) -> tuple[int, int, int]:
    """How many rooms, events and aliases the database holds."""
    db = server.app[STORES].db
    rooms = await db.fetch_val("SELECT COUNT(*) FROM rooms")
    events = await db.fetch_val("SELECT COUNT(*) FROM events")
    aliases = await db.fetch_val("SELECT COUNT(*) FROM room_aliases")
    return int(rooms), int(events), int(aliases)


@pytest.mark.parametrize("body", REFUSED)
async def test_refused_before_the_room_exists(
    server: LiveServer, http: aiohttp.ClientSession, body: JsonBody
) -> None:
    token = (await register(http, server.url, "alice"))["access_token"]
    before = await counts(server)
    status, err = await call(
        http, "POST", f"{server.url}{CLIENT}/createRoom", token=token, body=body
    )
    assert (status, err["errcode"]) == (400, "M_INVALID_ROOM_STATE"), err
    assert await counts(server) == before  # no room, no event, no alias
    status, joined = await call(http, "GET", f"{server.url}{CLIENT}/joined_rooms", token=token)
    assert (status, joined["joined_rooms"]) == (200, [])


async def test_refused_alias_stays_free(server: LiveServer, http: aiohttp.ClientSession) -> None:
    token = (await register(http, server.url, "alice"))["access_token"]
    url = f"{server.url}{CLIENT}/createRoom"
    refused = {
        "room_alias_name": "kept",
        "power_level_content_override": TAKE_ALICES_POWER,
        **PRE_V12,
    }
    status, _ = await call(http, "POST", url, token=token, body=refused)
    assert status == 400
    status, _ = await call(http, "GET", alias_url(server, "#kept:localhost"))
    assert status == 404
    status, created = await call(http, "POST", url, token=token, body={"room_alias_name": "kept"})
    assert status == 200, created


async def test_allowed_variations_still_create(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    token = (await register(http, server.url, "alice"))["access_token"]
    url = f"{server.url}{CLIENT}/createRoom"
    bodies: list[JsonBody] = [
        {
            "power_level_content_override": {"users": {ALICE: 100, "@bob:localhost": 50}},
            **PRE_V12,
        },
        {"power_level_content_override": {"users": {"@bob:localhost": 50}}},
        {"power_level_content_override": TAKE_ALICES_POWER, "name": "Still alice's"},
        {
            "name": "Mine",
            "initial_state": [
                {
                    "type": "m.room.member",
                    "state_key": ALICE,
                    "content": {"membership": "join", "displayname": "A"},
                }
            ],
        },
        {"invite": ["@bob:localhost"], "is_direct": True, "preset": "trusted_private_chat"},
    ]
    for body in bodies:
        status, created = await call(http, "POST", url, token=token, body=body)
        assert status == 200, (body, created)


class FailingTopic:
    """The server's event service, except that a topic fails to store (as a dying database
    would), after the room and its first events exist."""

    def __init__(self, events: EventService) -> None:
        self._events = events
        self.room_ids: set[RoomId] = set()

    def __getattr__(self, name: str) -> object:
        return getattr(self._events, name)  # the create event is built and stored as usual

    async def send(self, event: NewEvent, txn: TxnKey | None = None) -> SentEvent:
        self.room_ids.add(event.room_id)
        if event.type == M_ROOM_TOPIC:
            raise ConnectionError("the database went away")
        return await self._events.send(event, txn)


async def test_failure_after_creation_rolls_back(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    token = (await register(http, server.url, "alice"))["access_token"]
    services, stores = server.app[SERVICES], server.app[STORES]
    failing = FailingTopic(services.events)
    rooms = RoomService(
        server_name="localhost",
        events=failing,  # type: ignore[arg-type]
        membership=services.membership,
        store=stores.events,
        aliases=stores.aliases,
        clock=services.clock,
    )
    alice = Requester(UserId(ALICE), DeviceId("D"), is_admin=False, access_token_hash="")
    request = CreateRoomRequest(room_alias_name="doomed", name="Doomed", topic="never stored")
    with pytest.raises(ConnectionError):
        await rooms.create_room(alice, request)
    (room_id,) = failing.room_ids
    membership = await stores.events.membership(UserId(ALICE), room_id)
    assert membership is not None
    assert membership[0] == "leave"
    status, _ = await call(http, "GET", alias_url(server, "#doomed:localhost"))
    assert status == 404
    status, joined = await call(http, "GET", f"{server.url}{CLIENT}/joined_rooms", token=token)
    assert (status, joined["joined_rooms"]) == (200, [])
    name: JsonDict = {"room_alias_name": "doomed"}
    status, created = await call(
        http, "POST", f"{server.url}{CLIENT}/createRoom", token=token, body=name
    )
    assert status == 200, created

"""A full chat between matrix-nio clients on a live server, on SQLite and PostgreSQL.

Two users share a DM and a group room with a third: invites, messages in real time through
`/sync`, redaction, typing, receipts, presence, pagination, kick and ban, in rooms of versions
10, 11 and 12. Every call asserts on
nio's own response types, so anything nio cannot parse fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import nio
import pytest

from tests.conftest import LiveServer

PASSWORD = "correct horse battery staple"
# Room version 12 (room IDs without a server name, creators above the power levels) is the
# default; the older ones are still served.
ROOM_VERSIONS = ("10", "11", "12")
_CONFIG = nio.AsyncClientConfig(
    max_limit_exceeded=0,
    max_timeouts=0,
    request_timeout=120,
    encryption_enabled=False,
    store_sync_tokens=False,
)

Users = Callable[[str], Awaitable[nio.AsyncClient]]


@pytest.fixture
async def users(server: LiveServer) -> AsyncIterator[Users]:
    clients: list[nio.AsyncClient] = []

    async def make(name: str) -> nio.AsyncClient:
        client = nio.AsyncClient(server.url, config=_CONFIG)
        clients.append(client)
        response = await client.register(name, PASSWORD, device_name=f"{name}'s laptop")
        assert isinstance(response, nio.RegisterResponse), response
        synced = await client.sync(timeout=0, full_state=True)
        assert isinstance(synced, nio.SyncResponse), synced
        return client

    yield make
    for client in clients:
        await client.close()


async def sync_until(
    client: nio.AsyncClient, done: Callable[[nio.SyncResponse], bool], rounds: int = 20
) -> nio.SyncResponse:
    """Long-poll until `done` holds for one response (bounded)."""
    for _ in range(rounds):
        response = await client.sync(timeout=5000, since=client.next_batch)
        assert isinstance(response, nio.SyncResponse), response
        if done(response):
            return response
    raise AssertionError("condition never met in sync")


def messages_in(response: nio.SyncResponse, room_id: str) -> list[str]:
    room = response.rooms.join.get(room_id)
    if room is None:
        return []
    return [e.body for e in room.timeline.events if isinstance(e, nio.RoomMessageText)]


@pytest.mark.parametrize("version", ROOM_VERSIONS)
async def test_direct_chat(users: Users, version: str) -> None:
    alice = await users("alice")
    bob = await users("bob")
    created = await alice.room_create(
        is_direct=True,
        invite=[bob.user_id],
        preset=nio.RoomPreset.trusted_private_chat,
        room_version=version,
    )
    assert isinstance(created, nio.RoomCreateResponse), created
    room_id = created.room_id
    invited = await sync_until(bob, lambda r: room_id in r.rooms.invite)
    assert room_id in invited.rooms.invite
    joined = await bob.join(room_id)
    assert isinstance(joined, nio.JoinResponse), joined
    await bob.sync(timeout=0, since=bob.next_batch)

    sent = await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "hi bob"})
    assert isinstance(sent, nio.RoomSendResponse), sent
    got = await sync_until(bob, lambda r: "hi bob" in messages_in(r, room_id))
    assert messages_in(got, room_id) == ["hi bob"]
    assert bob.rooms[room_id].member_count == 2

    typing = await bob.room_typing(room_id, True, timeout=10000)
    assert isinstance(typing, nio.RoomTypingResponse), typing
    await sync_until(
        alice,
        lambda r: any(
            isinstance(e, nio.TypingNoticeEvent) and bob.user_id in e.users
            for e in (r.rooms.join.get(room_id).ephemeral if room_id in r.rooms.join else [])
        ),
    )

    receipt = await bob.update_receipt_marker(room_id, sent.event_id)
    assert isinstance(receipt, nio.UpdateReceiptMarkerResponse), receipt
    await sync_until(
        alice,
        lambda r: any(
            isinstance(e, nio.ReceiptEvent)
            and any(rc.event_id == sent.event_id and rc.user_id == bob.user_id for rc in e.receipts)
            for e in (r.rooms.join.get(room_id).ephemeral if room_id in r.rooms.join else [])
        ),
    )
    markers = await bob.room_read_markers(room_id, sent.event_id, sent.event_id)
    assert isinstance(markers, nio.RoomReadMarkersResponse), markers

    redacted = await alice.room_redact(room_id, sent.event_id, reason="oops")
    assert isinstance(redacted, nio.RoomRedactResponse), redacted
    await sync_until(
        bob,
        lambda r: any(
            isinstance(e, nio.RedactionEvent)
            for e in (r.rooms.join[room_id].timeline.events if room_id in r.rooms.join else [])
        ),
    )

    presence = await alice.set_presence("online", "around")
    assert isinstance(presence, nio.PresenceSetResponse), presence
    seen = await bob.get_presence(alice.user_id)
    assert isinstance(seen, nio.PresenceGetResponse), seen
    assert seen.presence == "online"
    assert seen.status_msg == "around"


@pytest.mark.parametrize("version", ROOM_VERSIONS)
async def test_group_room_pagination_kick_ban(users: Users, version: str) -> None:
    alice = await users("alice")
    bob = await users("bob")
    carol = await users("carol")
    created = await alice.room_create(
        name="Group", topic="all of us", invite=[bob.user_id, carol.user_id], room_version=version
    )
    assert isinstance(created, nio.RoomCreateResponse), created
    room_id = created.room_id
    for client in (bob, carol):
        assert isinstance(await client.join(room_id), nio.JoinResponse)
    for i in range(25):
        response = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": f"m{i}"}
        )
        assert isinstance(response, nio.RoomSendResponse), response

    synced = await carol.sync(timeout=0, since=carol.next_batch)
    assert isinstance(synced, nio.SyncResponse)
    room = synced.rooms.join[room_id]
    assert room.timeline.limited
    bodies = messages_in(synced, room_id)
    token = room.timeline.prev_batch
    for _ in range(10):
        page = await carol.room_messages(room_id, start=token, limit=7)
        assert isinstance(page, nio.RoomMessagesResponse), page
        bodies = [e.body for e in page.chunk if isinstance(e, nio.RoomMessageText)][::-1] + bodies
        if not page.chunk or page.end is None:
            break
        token = page.end
    assert bodies == [f"m{i}" for i in range(25)]
    assert carol.rooms[room_id].display_name == "Group"

    kicked = await alice.room_kick(room_id, bob.user_id, reason="bye")
    assert isinstance(kicked, nio.RoomKickResponse), kicked
    await sync_until(bob, lambda r: room_id in r.rooms.leave)
    banned = await alice.room_ban(room_id, carol.user_id, reason="spam")
    assert isinstance(banned, nio.RoomBanResponse), banned
    refused = await carol.join(room_id)
    assert isinstance(refused, nio.JoinError)
    assert refused.status_code == "M_FORBIDDEN"
    members = await alice.joined_members(room_id)
    assert isinstance(members, nio.JoinedMembersResponse), members
    assert [m.user_id for m in members.members] == [alice.user_id]
    left = await alice.room_leave(room_id)
    assert isinstance(left, nio.RoomLeaveResponse), left

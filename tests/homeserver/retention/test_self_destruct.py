"""Self-destructing messages on both backends with a fake clock: at their time (absolute, or a
delay after the first read receipt of someone else) they vanish from every read path, are
redacted by the sender's server and purged; a time in the past deletes at once; encrypted
messages carry the fields beside the ciphertext; timers survive a restart; retention need not
be on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from homeserver.app.app_keys import STORES
from tests.conftest import make_config
from tests.homeserver.fake_clock import FakeClock
from tests.homeserver.retention.helpers import (
    MINUTE,
    Reader,
    caught_up,
    on_clock,
    purged,
    reader,
    tick,
    wait_purged,
)
from tests.waiting import wait_for

AFTER = "org.matrix.self_destruct_after"
ON_READ = "org.matrix.self_destruct"


async def _redaction_of(user: Reader, room_id: str, event_id: str) -> dict[str, Any] | None:
    """The redaction of `event_id` in the room's timeline, if any."""
    synced = await user.sync()
    events = synced["rooms"]["join"].get(room_id, {}).get("timeline", {}).get("events", [])
    for event in events:
        if event["type"] == "m.room.redaction" and (
            event.get("redacts") == event_id or event["content"].get("redacts") == event_id
        ):
            found: dict[str, Any] = event
            return found
    return None


async def test_a_message_goes_at_its_time(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    # Retention itself is off: self-destruct works regardless.
    async with on_clock(make_config(database_url, tmp_path / "data"), clock) as server:
        alice = await reader(http, server, "alice")
        bob = await reader(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        when = clock.time_ms() + 5_000
        doomed = await alice.send(room, "burning note", **{AFTER: when})
        kept = await alice.send(room, "a note that stays")
        await caught_up(server)
        await tick(clock, 4_999)
        assert doomed in await bob.message_ids(room)
        assert (await bob.found("burning"))["count"] == 1

        await tick(clock, 1)
        assert doomed not in await bob.message_ids(room)  # at once, whatever the job does
        assert (await bob.event(room, doomed))[0] == 404
        await wait_purged(server, doomed)
        redaction = await _redaction_of(bob, room, doomed)
        assert redaction is not None
        assert redaction["sender"] == alice.user_id
        assert redaction["content"].get("reason") == "self-destruct"
        assert redaction["origin_server_ts"] - when < 1_000  # within a second of its time
        row = (await server.app[STORES].events.get_events([doomed]))[doomed]  # type: ignore[list-item]
        assert row.raw["content"] == {}
        assert (await bob.found("burning"))["results"] == []
        assert kept in await bob.message_ids(room)
        assert not await purged(server, kept)


async def test_a_time_in_the_past_deletes_at_once(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    async with on_clock(make_config(database_url, tmp_path / "data"), clock) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room()
        gone = await alice.send(room, "never seen", **{AFTER: clock.time_ms() - 1})
        assert gone not in await alice.message_ids(room)
        assert (await alice.event(room, gone))[0] == 404
        await wait_purged(server, gone)  # without the clock moving
        assert await _redaction_of(alice, room, gone) is not None


async def test_the_timer_starts_at_the_first_read_by_someone_else(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    async with on_clock(make_config(database_url, tmp_path / "data"), clock) as server:
        alice = await reader(http, server, "alice")
        bob = await reader(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        secret = await alice.send(room, "read me once", **{ON_READ: 10_000})
        await alice.receipt(room, secret)  # the sender's own receipt starts nothing
        await caught_up(server)
        await tick(clock, 10 * MINUTE)
        assert secret in await bob.message_ids(room)

        later = await bob.send(room, "bob talks")
        await bob.receipt(room, later)  # covers `secret` too
        await tick(clock, 9_999)
        assert secret in await alice.message_ids(room)
        await tick(clock, 1)
        assert secret not in await alice.message_ids(room)
        assert secret not in await bob.message_ids(room)
        await wait_purged(server, secret)
        assert later in await alice.message_ids(room)


async def test_encrypted_messages_carry_the_fields_beside_the_ciphertext(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    async with on_clock(make_config(database_url, tmp_path / "data"), clock) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room(
            initial_state=[
                {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
            ]
        )
        content = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg2yyOwAtHaZTwyNg37afzg8f3r9IsN9r",
            "sender_key": "peI7rbVS5q3fYHkx4wDA0oLjgVx2I1Qx8tTdg7ZxVjs",
            "session_id": "ZFD6+OmV7fVCsJ7Gap8UnORH8EnmiAkes8FAvQuCw/I",
            "device_id": "ABCDEF",
            AFTER: clock.time_ms() + 2_000,
        }
        sealed = await alice.send_content(room, "m.room.encrypted", content)
        await caught_up(server)
        assert sealed in await alice.message_ids(room)
        await tick(clock, 2_000)
        assert sealed not in await alice.message_ids(room)
        await wait_purged(server, sealed)
        row = (await server.app[STORES].events.get_events([sealed]))[sealed]  # type: ignore[list-item]
        assert "ciphertext" not in row.raw["content"]


async def test_timers_survive_a_restart(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    config = make_config(database_url, tmp_path / "data")
    async with on_clock(config, clock) as server:
        alice = await reader(http, server, "alice")
        room = await alice.create_room()
        doomed = await alice.send(room, "until later", **{AFTER: clock.time_ms() + MINUTE})
        await caught_up(server)
    await tick(clock, 2 * MINUTE)  # it expired while the server was down
    async with on_clock(config, clock) as server:
        await wait_purged(server, doomed)
        alice_again = Reader(http, server.url, alice.user_id, alice.token)
        assert doomed not in await alice_again.message_ids(room)
        await wait_for(
            lambda: _redacted(alice_again, room, doomed), what="the redaction after restart"
        )


async def _redacted(user: Reader, room_id: str, event_id: str) -> bool:
    return await _redaction_of(user, room_id, event_id) is not None

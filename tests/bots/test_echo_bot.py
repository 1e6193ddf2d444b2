"""The echo bot end to end on a live Tessera (SQLite and PostgreSQL).

In process: a bot and a user client in a room; `!echo hi` → the bot answers `hi`; plain messages
are echoed in a direct chat but not in a group; history from before the bot started is ignored.
As a real process: `python -m bots.echo --register` answers, then exits cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.echo import build_bot
from sdk import requests
from sdk.bot import Bot
from sdk.client import AsyncClient
from sdk.crypto import E2EE
from sdk.events import RoomEvent
from sdk.state import Room
from tests.conftest import LiveServer
from tests.e2e.process import REPO_ROOT
from tests.sdk.helpers import PASSWORD, MakeClient, client_factory
from tests.waiting import PATIENCE_S, wait_for


@pytest.fixture
async def make(server: LiveServer) -> AsyncIterator[MakeClient]:
    async with client_factory(server.url) as factory:
        yield factory


def notices_from(sender: str, seen: list[tuple[str, str, str]]) -> list[str]:
    return [body for who, msgtype, body in seen if who == sender and msgtype == "m.notice"]


async def watch(
    client: AsyncClient, stop: asyncio.Event
) -> tuple[list[tuple[str, str, str]], asyncio.Task[None]]:
    seen: list[tuple[str, str, str]] = []

    def record(room: Room, event: RoomEvent) -> None:
        content = event.content
        seen.append((event.sender, str(content.get("msgtype")), str(content.get("body"))))

    client.add_event_callback(record, "m.room.message")
    return seen, asyncio.create_task(client.sync_forever(timeout_ms=1000, stop=stop))


async def test_echo_command_and_direct_chat(make: MakeClient) -> None:
    user = await make("user")
    bot_client = await make("echobot")
    group = await user.create_room(name="group", invite=[bot_client.user_id or ""])
    await user.send_text(group, "!echo from history")  # before the bot runs: never answered

    bot = build_bot(bot_client)
    bot_task = asyncio.create_task(bot.run(timeout_ms=1000, handle_signals=False))
    stop = asyncio.Event()
    seen, user_loop = await watch(user, stop)
    try:
        await wait_for(lambda: "@echobot:localhost" in _joined(user, group))
        await user.send_text(group, "!echo hi")
        await wait_for(lambda: "hi" in notices_from("@echobot:localhost", seen))
        await user.send_text(group, "just chatting")  # not a command, not a DM: no answer
        await user.send_text(group, "!help")
        await wait_for(
            lambda: any(n.startswith("Commands:") for n in notices_from("@echobot:localhost", seen))
        )
        bot_notices = notices_from("@echobot:localhost", seen)
        assert "just chatting" not in bot_notices
        assert "from history" not in bot_notices

        dm = await user.create_room(is_direct=True, invite=[bot_client.user_id or ""])
        await wait_for(lambda: "@echobot:localhost" in _joined(user, dm))
        await user.send_text(dm, "ping in private")
        await wait_for(lambda: "ping in private" in notices_from("@echobot:localhost", seen))
    finally:
        bot.stop()
        stop.set()
        await asyncio.wait_for(asyncio.gather(bot_task, user_loop), 15)
    assert bot_task.exception() is None


def _joined(client: AsyncClient, room_id: str) -> list[str]:
    room = client.state.room(room_id)
    return room.joined_member_ids if room is not None else []


async def test_graceful_shutdown_finishes_in_flight_handlers(make: MakeClient) -> None:
    user = await make("user")
    bot_client = await make("slowbot")
    bot = Bot(bot_client, shutdown_timeout_s=PATIENCE_S)
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @bot.command("slow")
    async def slow(room: Room, event: RoomEvent, args: str) -> None:
        started.set()
        await release.wait()  # still running when the bot is told to stop
        await bot.reply(room, "done slowly")
        finished.set()

    room_id = await user.create_room(invite=[bot_client.user_id or ""])
    bot_task = asyncio.create_task(bot.run(timeout_ms=1000, handle_signals=False))

    async def bot_joined() -> bool:
        return "@slowbot:localhost" in await joined_members(user, room_id)

    await wait_for(bot_joined, what="the bot's join")
    await user.send_text(room_id, "!slow")
    await asyncio.wait_for(started.wait(), PATIENCE_S)
    bot.stop()
    release.set()
    await asyncio.wait_for(bot_task, PATIENCE_S)
    assert finished.is_set()  # the handler ran to completion before run() returned
    assert bot_client._http._session is None or bot_client._http._session.closed
    messages = await user.room_messages(room_id, limit=20)
    assert any(e.content.get("body") == "done slowly" for e in messages.chunk)


async def joined_members(client: AsyncClient, room_id: str) -> list[str]:
    """The joined members per the server (for a client that does not sync)."""
    request = requests.build("get_joined_members", params={"roomId": room_id})
    return sorted((await client.request_json(request)).get("joined", {}))


async def test_echo_bot_process_answers_and_stops_on_sigterm(
    server: LiveServer, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        command = ["-m", "bots.echo", "--homeserver", server.url, "--user", "procbot"]
        command += ["--password", PASSWORD, "--register", "--store", str(tmp_path / "bot.db")]
        command += ["--sync-timeout-ms", "1000"]
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=REPO_ROOT, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        async with client_factory(server.url) as make_client:
            user = await make_client("user")
            await E2EE.install(user)
            stop = asyncio.Event()
            seen, loop = await watch(user, stop)
            try:
                await wait_for(
                    lambda: b"encryption enabled" in log.read_bytes(), timeout_s=PATIENCE_S
                )
                room_id = await user.create_room(invite=["@procbot:localhost"])
                await wait_for(
                    lambda: "@procbot:localhost" in _joined(user, room_id), timeout_s=PATIENCE_S
                )
                await user.send_text(room_id, "!echo over the wire")
                await wait_for(lambda: "over the wire" in notices_from("@procbot:localhost", seen))
                # The same in an encrypted room: the bot decrypts the command and encrypts the
                # answer, which reaches us decrypted.
                secret = await user.create_room(encrypted=True, invite=["@procbot:localhost"])
                await wait_for(
                    lambda: "@procbot:localhost" in _joined(user, secret), timeout_s=PATIENCE_S
                )
                await user.send_text(secret, "!echo whispered")
                await wait_for(lambda: "whispered" in notices_from("@procbot:localhost", seen))
                page = await user.room_messages(secret, limit=10)
                from_bot = [e for e in page.chunk if e.sender == "@procbot:localhost"]
                assert {e.type for e in from_bot} >= {"m.room.encrypted"}
                assert "whispered" not in str([e.content for e in from_bot])
            finally:
                stop.set()
                await asyncio.wait_for(loop, PATIENCE_S)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        assert b"stopped" in log.read_bytes()
        assert PASSWORD.encode() not in log.read_bytes()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

"""`sdk.bot.Bot` live: file helpers, transparent encryption, auto-join, ignoring history.

The command and shutdown behaviour of the echo bot itself is in `tests/bots/test_echo_bot.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sdk.bot import Bot
from sdk.client import AsyncClient
from sdk.errors import EncryptionRequiredError
from sdk.events import RoomEvent
from sdk.state import Room
from tests.conftest import LiveServer
from tests.sdk.fake_crypto import FakeCrypto
from tests.sdk.helpers import MakeClient, client_factory, sync_until
from tests.waiting import PATIENCE_S, wait_for

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@pytest.fixture
async def make(server: LiveServer) -> AsyncIterator[MakeClient]:
    async with client_factory(server.url) as factory:
        yield factory


def membership(client: AsyncClient, room_id: str) -> str | None:
    room = client.state.room(room_id)
    return room.membership if room is not None else None


async def running(bot: Bot) -> asyncio.Task[None]:
    task = asyncio.create_task(bot.run(timeout_ms=1000, handle_signals=False, close_client=False))
    await asyncio.sleep(0)
    return task


async def test_send_and_download_files(make: MakeClient, tmp_path: Path) -> None:
    user, bot_client = await make("user"), await make("filebot")
    bot = Bot(bot_client)
    received: list[bytes] = []

    @bot.command("upload")
    async def upload(room: Room, event: RoomEvent, args: str) -> None:
        await bot.send_file(room, PNG, filename="picture.png")

    @bot.on_file
    async def on_file(room: Room, event: RoomEvent) -> None:
        received.append(await bot.download_file(event))

    room_id = await user.create_room(invite=[bot_client.user_id or ""])
    task = await running(bot)
    try:
        await wait_for(lambda: membership(bot_client, room_id) == "join")
        files: list[RoomEvent] = []
        user.add_event_callback(
            lambda _r, e: files.append(e) if e.content.get("msgtype") == "m.image" else None,  # type: ignore[arg-type, func-returns-value]
            "m.room.message",
        )
        await user.send_text(room_id, "!upload")
        await sync_until(user, lambda: bool(files))
        image = files[0]
        assert image.content["info"] == {"mimetype": "image/png", "size": len(PNG)}
        assert image.content["url"].startswith("mxc://")
        assert (await user.download(image.content["url"])).body == PNG
        # A file the user sends reaches the bot's handler, which downloads it.
        path = tmp_path / "notes.txt"
        path.write_bytes(b"some notes")
        user_bot = Bot(user)
        await user_bot.send_file(room_id, path)
        await wait_for(lambda: received == [b"some notes"])
    finally:
        bot.stop()
        await asyncio.wait_for(task, PATIENCE_S)


async def test_transparent_encryption(make: MakeClient) -> None:
    user, bot_client = await make("user"), await make("cryptobot")
    user.crypto, bot_client.crypto = FakeCrypto(user), FakeCrypto(bot_client)
    bot = Bot(bot_client)

    @bot.command("secret")
    async def secret(room: Room, event: RoomEvent, args: str) -> None:
        await bot.reply(room, f"heard: {args}")
        await bot.send_file(room, b"classified", filename="plan.txt")

    room_id = await user.create_room(encrypted=True, invite=[bot_client.user_id or ""])
    task = await running(bot)
    try:
        await wait_for(lambda: membership(bot_client, room_id) == "join")
        replies: list[RoomEvent] = []
        user.add_event_callback(
            lambda _r, e: replies.append(e) if e.sender == bot_client.user_id else None,  # type: ignore[arg-type, func-returns-value]
            "m.room.message",
        )
        await user.sync()
        await user.send_text(room_id, "!secret the plan")
        await sync_until(user, lambda: len(replies) == 2)
        notice, attachment = replies
        assert notice.content["body"] == "heard: the plan"
        assert notice.encrypted is not None  # it travelled as m.room.encrypted
        assert "url" not in attachment.content
        assert attachment.content["file"]["v"] == "fake"
        assert await Bot(user).download_file(attachment) == b"classified"
        stored = await user.download(attachment.content["file"]["url"])
        assert stored.body != b"classified"  # the server holds ciphertext only
    finally:
        bot.stop()
        await asyncio.wait_for(task, PATIENCE_S)


async def test_files_into_encrypted_rooms_need_attachment_crypto(make: MakeClient) -> None:
    user = await make("user")
    room_id = await user.create_room(encrypted=True)
    with pytest.raises(EncryptionRequiredError):
        await Bot(user).send_file(room_id, b"x", filename="x.bin")


async def test_history_and_own_messages_are_ignored(make: MakeClient) -> None:
    user, bot_client = await make("user"), await make("quietbot")
    bot = Bot(bot_client)
    calls: list[str] = []

    @bot.command("count")
    async def count(room: Room, event: RoomEvent, args: str) -> None:
        calls.append(args)
        await bot.reply(room, "!count from myself", notice=False)

    room_id = await user.create_room(invite=[bot_client.user_id or ""])
    await user.send_text(room_id, "!count history")
    task = await running(bot)
    try:
        await wait_for(lambda: membership(bot_client, room_id) == "join")
        await user.send_text(room_id, "!count live")
        await wait_for(lambda: calls == ["live"])

        async def replied() -> bool:
            page = await user.room_messages(room_id, limit=20)
            return any(e.content.get("body") == "!count from myself" for e in page.chunk)

        await wait_for(replied, what="the bot's own message")
        # Handled in timeline order: once this is seen, the bot has passed its own message.
        await user.send_text(room_id, "!count after")
        await wait_for(lambda: len(calls) >= 2)
        assert calls == ["live", "after"]
    finally:
        bot.stop()
        await asyncio.wait_for(task, PATIENCE_S)

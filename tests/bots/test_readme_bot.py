"""The README's encrypted echo bot, run exactly as printed, against a live Tessera.

The first Python block under "An encrypted echo bot" in README.md is extracted and run as its own
process (with `HOMESERVER` and `ECHO_PASSWORD` in the environment, as the README says); a user
with end-to-end encryption invites it to an encrypted room and must get the message echoed back,
encrypted on the wire. So the README cannot rot.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from sdk import E2EE, AsyncClient, Room, RoomEvent
from tests.conftest import LiveServer
from tests.e2e.process import REPO_ROOT
from tests.sdk.helpers import PASSWORD, client_factory, wait_for

BOT = "@echo:localhost"


def readme_bot() -> str:
    """The code of the README's encrypted echo bot."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### An encrypted echo bot", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no python block in the README's echo bot section"
    return match.group(1)


def test_the_readme_bot_is_short_and_uses_the_front_door() -> None:
    code = readme_bot()
    assert len(code.splitlines()) <= 15
    assert "from sdk import" in code
    assert "sdk." not in code.replace("from sdk import", "")


async def _wait_for_bot_keys(client: AsyncClient) -> None:
    """Wait until the bot's device has published its encryption keys."""

    async def published() -> bool:
        response = await client.keys_query({BOT: []})
        return bool(response.get("device_keys", {}).get(BOT))

    await wait_for(published, what="the README bot's device keys")


async def test_readme_bot_echoes_an_encrypted_message(server: LiveServer, tmp_path: Path) -> None:
    log = tmp_path / "readme-bot.log"
    async with client_factory(server.url) as make:
        await make("echo")  # the account the README creates with register-user
        user = await make("user")
        await E2EE.install(user)
        env = {**os.environ, "HOMESERVER": server.url, "ECHO_PASSWORD": PASSWORD}
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                readme_bot(),
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        echoes: list[RoomEvent] = []

        def record(room: Room, event: RoomEvent) -> None:
            if event.sender == BOT and event.msgtype == "m.notice" and event.decrypted:
                echoes.append(event)

        user.add_event_callback(record, "m.room.message")
        stop = asyncio.Event()
        syncing = asyncio.create_task(user.sync_forever(timeout_ms=1000, stop=stop))
        try:
            await _wait_for_bot_keys(user)
            room_id = await user.create_room(encrypted=True, invite=[BOT])
            await wait_for(lambda: BOT in _joined(user, room_id), timeout_s=60)
            sent = await user.send_text(room_id, "hello through the README")
            await wait_for(lambda: bool(echoes), timeout_s=60)
            (echo,) = echoes
            assert echo.body == "hello through the README"
            assert echo.reply_to == sent
            page = await user.room_messages(room_id, limit=10)
            from_bot = [e for e in page.chunk if e.sender == BOT and e.type != "m.room.member"]
            assert [e.type for e in from_bot] == ["m.room.encrypted"]
        finally:
            stop.set()
            await asyncio.wait_for(syncing, 15)
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(process.wait(), 20)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    assert code == 0, log.read_text(errors="replace")


def _joined(client: AsyncClient, room_id: str) -> list[str]:
    room = client.state.room(room_id)
    return room.joined_member_ids if room is not None else []

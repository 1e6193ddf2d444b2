"""The Python side of the web client's interop test (web/e2e/interop.test.mjs).

Registers a user with the SDK's end-to-end encryption and runs a bot that joins the web user's
encrypted DM, says so, answers each text with what it read, answers each file with its name,
SHA-256 and signature trust (after decrypting it and checking its hash and the browser device's
signature, which it requires), then sends a text and a file of its own, signed by its device.

Usage: python tests/web/interop_peer.py HOMESERVER_URL USERNAME PASSWORD
"""

from __future__ import annotations

import asyncio
import hashlib
import sys

from sdk import E2EE, AsyncClient, Bot, Room, RoomEvent
from sdk.crypto.errors import CryptoError
from sdk.responses import SyncResponse

PYTHON_FILE = b"contents written by the Python SDK\n"


async def main(url: str, username: str, password: str) -> None:
    """Run the peer until it is killed."""
    client = AsyncClient(url)
    await client.register(username, password)
    e2ee = await E2EE.install(client)
    bot = Bot(client)
    greeted: set[str] = set()
    pending: set[asyncio.Task[str]] = set()

    def on_sync(response: SyncResponse) -> None:
        for room_id in response.rooms.join:
            if room_id not in greeted:
                greeted.add(room_id)
                task = asyncio.get_running_loop().create_task(bot.reply(room_id, "python is here"))
                pending.add(task)
                task.add_done_callback(pending.discard)

    @bot.on_message
    async def read(room: Room, event: RoomEvent) -> None:
        await bot.reply(room, f"python read: {event.body}")

    @bot.on_file
    async def got(room: Room, event: RoomEvent) -> None:
        try:
            downloaded = await e2ee.download_file(event, require_signature=True)
        except CryptoError as exc:
            await bot.reply(room, f"python rejected {event.body}: {type(exc).__name__}")
            return
        digest = hashlib.sha256(downloaded.data).hexdigest()
        await bot.reply(room, f"python got {event.body} sha256 {digest} {downloaded.trust.value}")
        await bot.reply(room, "hello from python")
        await e2ee.send_file(
            room.room_id, PYTHON_FILE, filename="from-python.txt", mimetype="text/plain"
        )

    client.add_sync_callback(on_sync)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await bot.run(timeout_ms=5_000)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

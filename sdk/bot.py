"""A bot framework on `AsyncClient`: commands by decorator, auto-join, files, graceful shutdown.

```python
bot = Bot(client, prefix="!")

@bot.command("echo")
async def echo(room: Room, event: RoomEvent, args: str) -> None:
    await bot.reply(room, args)

await bot.run()          # until SIGINT/SIGTERM or bot.stop()
```

Behaviour: `run()` first catches up without dispatching anything when the client has no sync
token (a bot does not answer history), joins pending invites, then syncs until stopped. Each
command or message handler runs as its own task (bounded by `max_concurrency`) so a slow handler
never stalls sync. Our own messages and `m.notice` messages (what bots send) never trigger
handlers, so two bots cannot loop. Encryption is transparent: events arrive decrypted and replies
are encrypted by the client's crypto layer when the room needs it; files are sent as encrypted
attachments when the crypto layer implements `AttachmentCrypto`, and refused otherwise rather
than uploaded in the clear. On shutdown the stop event ends the sync loop, in-flight handlers
get `shutdown_timeout_s` to finish, and the client's HTTP session is closed. Files given as a
`Path` stream from disk and `download_to` streams to disk (encrypted ones too when the crypto layer
implements `StreamingAttachmentCrypto`), with a progress callback.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from core.errors import JsonDict
from core.event_types import M_ROOM_MEMBER, M_ROOM_MESSAGE, Membership
from sdk.api_media import SavedMedia
from sdk.client import AsyncClient
from sdk.errors import DecryptionError, EncryptionRequiredError, MatrixRequestError
from sdk.events import RoomEvent, UndecryptableEvent
from sdk.expiry import self_destruct_fields
from sdk.hooks import AttachmentCrypto, StreamingAttachmentCrypto
from sdk.responses import SyncResponse
from sdk.state import Room
from sdk.transfer import Progress

__all__ = ["Bot", "CommandHandler", "MessageHandler"]

logger = logging.getLogger(__name__)

CommandHandler = Callable[[Room, RoomEvent, str], Awaitable[None]]
"""`handler(room, event, args)`: `args` is the text after the command name, stripped."""

MessageHandler = Callable[[Room, RoomEvent], Awaitable[None]]
"""`handler(room, event)` for text messages that are not commands."""

_MSGTYPE_BY_MEDIA: Final = {"image": "m.image", "video": "m.video", "audio": "m.audio"}
_FILE_MSGTYPES: Final = frozenset({"m.file", *_MSGTYPE_BY_MEDIA.values()})
_OPAQUE: Final = "application/octet-stream"  # what an encrypted upload is to the server


class Bot:
    """Command dispatch and lifecycle for one client.

    Attributes:
        client: The logged-in client the bot runs on.
        prefix: What starts a command (`!` in `!echo hi`).
    """

    def __init__(
        self,
        client: AsyncClient,
        prefix: str = "!",
        *,
        auto_join: bool = True,
        max_concurrency: int = 32,
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        """Create a bot on a logged-in client.

        Args:
            client: The client (its crypto layer, if any, is used transparently).
            prefix: The command prefix.
            auto_join: Join every room we are invited to.
            max_concurrency: The most handlers running at once.
            shutdown_timeout_s: How long shutdown waits for in-flight handlers.
        """
        self.client = client
        self.prefix = prefix
        self._auto_join = auto_join
        self._commands: dict[str, CommandHandler] = {}
        self._message_handlers: list[MessageHandler] = []
        self._file_handlers: list[MessageHandler] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._shutdown_timeout_s = shutdown_timeout_s
        self._stop = asyncio.Event()
        # Rooms whose new events we answer: joined before we started, or since our join event.
        self._live_rooms: set[str] = set()

    # Registration ------------------------------------------------------------------------------

    def command(self, name: str) -> Callable[[CommandHandler], CommandHandler]:
        """Register the decorated coroutine as the handler of `<prefix><name>`."""
        if not name or any(c.isspace() for c in name):
            raise ValueError("a command name is one non-empty word")

        def register(handler: CommandHandler) -> CommandHandler:
            self._commands[name] = handler
            return handler

        return register

    def on_message(self, handler: MessageHandler) -> MessageHandler:
        """Register the decorated coroutine for text messages that are not commands."""
        self._message_handlers.append(handler)
        return handler

    def on_file(self, handler: MessageHandler) -> MessageHandler:
        """Register the decorated coroutine for `m.file`, `m.image`, `m.video` and `m.audio`
        messages (fetch the content with `download_file`)."""
        self._file_handlers.append(handler)
        return handler

    @property
    def commands(self) -> list[str]:
        """The registered command names, sorted."""
        return sorted(self._commands)

    # Running -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the bot to shut down (what SIGINT and SIGTERM do)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether shutdown has begun."""
        return self._stop.is_set()

    async def run(
        self, *, timeout_ms: int = 30_000, handle_signals: bool = True, close_client: bool = True
    ) -> None:
        """Sync and dispatch until stopped, then shut down gracefully.

        Args:
            timeout_ms: The sync long-poll timeout.
            handle_signals: Stop on SIGINT and SIGTERM (main thread, Unix only).
            close_client: Close the client's HTTP session at the end.
        """
        installed = self._install_signals() if handle_signals else []
        try:
            if self.client.next_batch is None:
                await self.client.sync(timeout_ms=0)
            self._live_rooms.update(
                r.room_id for r in self.client.state.rooms_with(Membership.JOIN)
            )
            for room in self.client.state.rooms_with(Membership.INVITE):
                self._on_invite(room)
            self.client.add_event_callback(self._on_event)
            self.client.add_invite_callback(self._on_invite)
            self.client.add_sync_callback(self._after_sync)
            await self.client.sync_forever(timeout_ms, self._stop)
        finally:
            self.client.remove_event_callback(self._on_event)
            await self._drain()
            loop = asyncio.get_running_loop()
            for sig in installed:
                loop.remove_signal_handler(sig)
            if close_client:
                await self.client.close()

    def _install_signals(self) -> list[signal.Signals]:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or no signals on this platform
            installed.append(sig)
        return installed

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._shutdown_timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning("cancelled handlers still running at shutdown count=%d", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Awaitable[None], what: str) -> None:
        async def guarded() -> None:
            async with self._slots:
                try:
                    await work
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("bot handler failed handler=%s", what)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Dispatch ----------------------------------------------------------------------------------

    def _on_invite(self, room: Room) -> None:
        if self._auto_join and not self._stop.is_set():
            direct = any(
                e.type == M_ROOM_MEMBER
                and e.state_key == self.client.user_id
                and e.content.get("is_direct") is True
                for e in room.invite_state
            )
            self._spawn(self._join(room.room_id, room.inviter if direct else None), "auto-join")

    async def _join(self, room_id: str, direct_with: str | None) -> None:
        try:
            await self.client.join(room_id)
            logger.info("joined room_id=%s", room_id)
            if direct_with is not None:
                await self._mark_direct(room_id, direct_with)
        except MatrixRequestError as exc:
            logger.warning("auto-join failed room_id=%s errcode=%s", room_id, exc.errcode)

    async def _mark_direct(self, room_id: str, user_id: str) -> None:
        """Record the room in our `m.direct` account data, as clients do on accepting a DM."""
        current = self.client.state.account_data.get("m.direct", {})
        updated = {k: list(v) for k, v in current.items() if isinstance(v, list)}
        if room_id not in updated.setdefault(user_id, []):
            updated[user_id].append(room_id)
        self.client.state.account_data["m.direct"] = updated
        await self.client.set_account_data("m.direct", updated)

    def _after_sync(self, response: SyncResponse) -> None:
        self._live_rooms.update(response.rooms.join)

    def _on_event(self, room: Room, event: RoomEvent) -> None:
        if room.room_id not in self._live_rooms:
            # A room we just joined: its timeline starts with history; answer after our join.
            own = event.type == M_ROOM_MEMBER and event.state_key == self.client.user_id
            if own and event.content.get("membership") == Membership.JOIN:
                self._live_rooms.add(room.room_id)
            return
        if isinstance(event, UndecryptableEvent):
            logger.warning("undecryptable event_id=%s error=%s", event.event_id, event.error)
            return
        if event.type != M_ROOM_MESSAGE or event.sender == self.client.user_id:
            return
        if room.membership != Membership.JOIN:
            return
        body, msgtype = event.content.get("body"), event.content.get("msgtype")
        if msgtype in _FILE_MSGTYPES:
            for file_handler in self._file_handlers:
                self._spawn(file_handler(room, event), getattr(file_handler, "__name__", "?"))
            return
        if msgtype != "m.text" or not isinstance(body, str):
            return
        if body.startswith(self.prefix):
            name, args = _split_command(body[len(self.prefix) :])
            handler = self._commands.get(name)
            if handler is not None:
                self._spawn(handler(room, event, args), f"command:{name}")
                return
        for message_handler in self._message_handlers:
            self._spawn(message_handler(room, event), getattr(message_handler, "__name__", "?"))

    # Helpers -----------------------------------------------------------------------------------

    def is_direct(self, room: Room) -> bool:
        """Whether `room` is a direct chat: listed in our `m.direct` account data (the bot
        adds rooms it joins from an `is_direct` invite)."""
        direct = self.client.state.account_data.get("m.direct", {})
        return any(isinstance(v, list) and room.room_id in v for v in direct.values())

    async def reply(
        self,
        room: Room | str,
        text: str,
        *,
        notice: bool = True,
        in_reply_to: str | None = None,
        self_destruct_ms: int | None = None,
        self_destruct_after_read_ms: int | None = None,
    ) -> str:
        """Send text to a room (an `m.notice` unless `notice=False`); return the event ID.

        Args:
            room: The room or its ID.
            text: The body.
            notice: Send an `m.notice` (what bots send) rather than an `m.text`.
            in_reply_to: The event this answers.
            self_destruct_ms: Delete the message this many milliseconds from now
                (`org.matrix.self_destruct_after`), on the server and on every client.
            self_destruct_after_read_ms: Delete it this many milliseconds after someone else
                first reads it (`org.matrix.self_destruct`).

        Raises:
            ValueError: A self-destruct delay that is not a positive whole number of ms.
        """
        room_id = room if isinstance(room, str) else room.room_id
        content: JsonDict = {"msgtype": "m.notice" if notice else "m.text", "body": text}
        if in_reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
        cleartext = self_destruct_fields(self_destruct_ms, self_destruct_after_read_ms)
        return await self.client.room_send(room_id, M_ROOM_MESSAGE, content, cleartext=cleartext)

    async def send(
        self,
        room: Room | str,
        text: str,
        *,
        notice: bool = False,
        in_reply_to: str | None = None,
        self_destruct_ms: int | None = None,
        self_destruct_after_read_ms: int | None = None,
    ) -> str:
        """Send text to a room (an `m.text` unless `notice=True`); return the event ID.

        The self-destruct fields go in the cleartext content (beside the ciphertext in an
        encrypted room), where the servers read them; see `reply` for the arguments.
        """
        return await self.reply(
            room,
            text,
            notice=notice,
            in_reply_to=in_reply_to,
            self_destruct_ms=self_destruct_ms,
            self_destruct_after_read_ms=self_destruct_after_read_ms,
        )

    async def send_file(
        self,
        room: Room | str,
        data: bytes | Path,
        *,
        filename: str | None = None,
        mimetype: str | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Upload a file and send it as `m.file`/`m.image`/`m.video`/`m.audio`; return the event ID.

        A `Path` is streamed from disk in chunks (`progress(sent, total)` follows it), encrypted
        on the way when the room is and the crypto layer can stream (the spec's v2 attachments).

        Raises:
            EncryptionRequiredError: The room is encrypted and the crypto layer cannot encrypt
                attachments.
        """
        room_id = room if isinstance(room, str) else room.room_id
        if isinstance(data, Path):
            filename = filename or data.name
        filename = filename or "file"
        mimetype = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        size = (await asyncio.to_thread(data.stat)).st_size if isinstance(data, Path) else len(data)
        content: JsonDict = {
            "msgtype": _MSGTYPE_BY_MEDIA.get(mimetype.split("/")[0], "m.file"),
            "body": filename,
            "filename": filename,
            "info": {"mimetype": mimetype, "size": size},
        }
        if await self.client.is_encrypted(room_id):
            content["file"] = await self._upload_encrypted(data, progress)
        elif isinstance(data, Path):
            content["url"] = await self.client.upload_file(
                data, mimetype, filename=filename, progress=progress
            )
        else:
            content["url"] = await self.client.upload(data, mimetype, filename)
        return await self.client.room_send(room_id, M_ROOM_MESSAGE, content)

    async def _upload_encrypted(self, data: bytes | Path, progress: Progress | None) -> JsonDict:
        """Encrypt and upload a file (streamed if the crypto layer can); its `EncryptedFile`."""
        crypto = self.client.crypto
        if isinstance(data, Path) and isinstance(crypto, StreamingAttachmentCrypto):
            encryptor = crypto.attachment_encryptor()
            uri = await self.client.upload_file(
                data, _OPAQUE, filename="", progress=progress, transform=encryptor
            )
            return encryptor.file_info(uri)
        if not isinstance(crypto, AttachmentCrypto):
            raise EncryptionRequiredError("the crypto layer cannot encrypt attachments")
        if isinstance(data, Path):
            data = await asyncio.to_thread(data.read_bytes)
        ciphertext, file_info = crypto.encrypt_file(data)
        return file_info(await self.client.upload(ciphertext, _OPAQUE))

    async def download_file(self, event: RoomEvent) -> bytes:
        """The bytes of a file, image, video or audio message (decrypted if it is encrypted).

        Raises:
            ValueError: The event carries no file.
            DecryptionError: The file is encrypted and the crypto layer cannot decrypt it.
        """
        file_info = event.encrypted_file
        if file_info is not None:
            crypto = self.client.crypto
            if not isinstance(crypto, AttachmentCrypto):
                raise DecryptionError("the crypto layer cannot decrypt attachments")
            ciphertext = (await self.client.download(file_info["url"])).body
            return crypto.decrypt_file(ciphertext, file_info)
        if event.url is None:
            raise ValueError("the event carries no file")
        return (await self.client.download(event.url)).body

    async def download_to(
        self, event: RoomEvent, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> SavedMedia:
        """Stream the file of a file, image, video or audio message to `path`, decrypting it on
        the way if it is encrypted; it appears at `path` only once complete and checked.

        Raises:
            ValueError: The event carries no file.
            DecryptionError: The file is encrypted and the crypto layer cannot stream-decrypt.
        """
        file_info = event.encrypted_file
        if file_info is not None:
            crypto = self.client.crypto
            if not isinstance(crypto, StreamingAttachmentCrypto):
                raise DecryptionError("the crypto layer cannot decrypt attachments as streams")
            decryptor = crypto.attachment_decryptor(file_info)
            return await self.client.download_to(
                file_info["url"], path, progress=progress, transform=decryptor
            )
        if event.url is None:
            raise ValueError("the event carries no file")
        return await self.client.download_to(event.url, path, progress=progress)


def _split_command(text: str) -> tuple[str, str]:
    """The command name and its arguments (the rest, stripped)."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""

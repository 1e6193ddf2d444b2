"""The echo bot: answers `!echo text` with `text`, and echoes plain messages in direct chats.

Run it against `make run`'s server:

    python -m bots.echo --homeserver http://localhost:8008 --user echo --password PW --register

`--register` creates the account on first run (and logs in when it already exists). `--store`
keeps the sync position, the device and its encryption keys across restarts (`--passphrase`
seals the keys in it). End-to-end encryption (`sdk.E2EE`) is on unless `--no-e2ee`: the
bot reads and answers in encrypted rooms like in any other. It stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Sequence

from sdk import E2EE, AsyncClient, Bot, Room, RoomEvent, Store, UserInUseError

__all__ = ["build_bot", "main"]

logger = logging.getLogger("bots.echo")


def build_bot(client: AsyncClient, prefix: str = "!") -> Bot:
    """The echo bot's handlers on a logged-in client."""
    bot = Bot(client, prefix=prefix)

    @bot.command("echo")
    async def echo(room: Room, event: RoomEvent, args: str) -> None:
        """`!echo text` → `text`."""
        if args:
            await bot.reply(room, args, in_reply_to=event.event_id)

    @bot.command("help")
    async def help_(room: Room, event: RoomEvent, args: str) -> None:
        """List the commands."""
        names = ", ".join(f"{prefix}{name}" for name in bot.commands)
        await bot.reply(room, f"Commands: {names}. In a direct chat I echo everything.")

    @bot.on_message
    async def echo_direct(room: Room, event: RoomEvent) -> None:
        """Plain messages in a direct chat are echoed back."""
        if bot.is_direct(room) and event.body:
            await bot.reply(room, event.body, in_reply_to=event.event_id)

    return bot


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bots.echo", description=__doc__.split("\n")[0])
    parser.add_argument("--homeserver", required=True, help="base URL, e.g. http://localhost:8008")
    parser.add_argument("--user", required=True, help="the bot's user name (localpart or @id)")
    parser.add_argument(
        "--password",
        default=os.environ.get("ECHO_BOT_PASSWORD"),
        help="the bot's password (default: $ECHO_BOT_PASSWORD)",
    )
    parser.add_argument("--register", action="store_true", help="create the account if needed")
    parser.add_argument("--store", help="a local store file to resume from across restarts")
    parser.add_argument(
        "--passphrase",
        default=os.environ.get("ECHO_BOT_PASSPHRASE"),
        help="seals the encryption keys in the store (default: $ECHO_BOT_PASSPHRASE)",
    )
    parser.add_argument("--no-e2ee", action="store_true", help="do not enable encryption")
    parser.add_argument("--prefix", default="!", help="the command prefix (default: !)")
    parser.add_argument(
        "--sync-timeout-ms", type=int, default=30_000, help="the sync long-poll (default: 30000)"
    )
    args = parser.parse_args(argv)
    if not args.password:
        parser.error("--password (or ECHO_BOT_PASSWORD) is required")
    return args


async def run(args: argparse.Namespace) -> None:
    """Log in (registering first if asked) and run the bot until it is stopped."""
    store = await Store.open(args.store) if args.store else None
    client = AsyncClient(args.homeserver, store=store)
    try:
        if args.register:
            try:
                await client.register(args.user, args.password, device_name="echo bot")
            except UserInUseError:
                await client.login(args.user, args.password, device_name="echo bot")
        else:
            await client.login(args.user, args.password, device_name="echo bot")
        logger.info("logged in user_id=%s device_id=%s", client.user_id, client.device_id)
        if not args.no_e2ee:
            await E2EE.install(client, passphrase=args.passphrase)
            logger.info("end-to-end encryption enabled")
        await build_bot(client, args.prefix).run(timeout_ms=args.sync_timeout_ms)
    finally:
        await client.close()
        if store is not None:
            await store.close()
    logger.info("stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """The command-line entry point."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

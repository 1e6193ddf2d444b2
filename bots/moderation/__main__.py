"""`python -m bots.moderation`: run the moderation bot (the account must be a server admin).

    python -m bots.moderation --homeserver http://localhost:8008 --user mod --password PW \\
        --moderator @alice:example.org --allow 203.0.113.10

Options may also come from a JSON or YAML file (`--config FILE`, keys as the long options with
underscores: `homeserver`, `user`, `password`, `access_token`, `moderators`, `allow`,
`block_duration_ms`, `policy_alias`, `moderators_alias`); the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bots.moderation.bot import BotSettings, ModerationBot
from bots.moderation.model import DATA_FILE, fit, load_training_set
from sdk import AsyncClient

logger = logging.getLogger("bots.moderation")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bots.moderation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, help="a JSON or YAML file of the options below")
    parser.add_argument("--homeserver", help="base URL, e.g. http://localhost:8008")
    parser.add_argument("--user", help="the bot's user (localpart or @id); a server admin")
    parser.add_argument("--password", default=os.environ.get("MODERATION_BOT_PASSWORD"))
    parser.add_argument("--access-token", default=os.environ.get("MODERATION_BOT_TOKEN"))
    parser.add_argument(
        "--moderator",
        action="append",
        dest="moderators",
        default=None,
        help="invite this user to the moderators' room (repeatable)",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=None,
        help="never flag this IP (repeatable), e.g. your own proxies",
    )
    parser.add_argument(
        "--block-duration-ms",
        type=int,
        default=None,
        help="blocks expire after this long (default: until undone)",
    )
    parser.add_argument("--policy-alias", default=None, help="default: moderation-policy")
    parser.add_argument("--moderators-alias", default=None, help="default: moderators")
    parser.add_argument("--training-data", type=Path, default=DATA_FILE)
    args = parser.parse_args(argv)
    if args.config is not None:
        loaded: Any = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            parser.error(f"{args.config}: expected a mapping of options")
        for key, value in loaded.items():
            if getattr(args, key, None) is None:
                setattr(args, key, value)
    if not args.homeserver:
        parser.error("--homeserver is required")
    if not args.access_token and not (args.user and args.password):
        parser.error("give --user and --password, or --access-token")
    return args


async def run(args: argparse.Namespace) -> None:
    """Log in, fit the model, run until stopped."""
    started = time.monotonic()
    scorer = fit(load_training_set(args.training_data))
    logger.info(
        "model fitted in %.1f s threshold=%.3f", time.monotonic() - started, scorer.threshold
    )
    client = AsyncClient(args.homeserver)
    try:
        if args.access_token:
            await client.restore_login("", "", args.access_token)
            whoami = await client.whoami()
            await client.restore_login(whoami.user_id, whoami.device_id or "", args.access_token)
        else:
            await client.login(args.user, args.password, device_name="moderation bot")
        settings = BotSettings(
            policy_alias=args.policy_alias or "moderation-policy",
            moderators_alias=args.moderators_alias or "moderators",
            moderators=tuple(args.moderators or ()),
            allow=tuple(args.allow or ()),
            block_duration_ms=args.block_duration_ms,
        )
        bot = ModerationBot(client, scorer, settings)
        await bot.setup()
        await bot.run()
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> None:
    """The command-line entry point."""
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

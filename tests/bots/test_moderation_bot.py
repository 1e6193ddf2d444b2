"""The moderation bot end to end: a live Tessera, the bot on the SDK, and a short simulated run
of people, a NAT office, a busy notification bot and attackers, each on its own loopback
address. Fast attackers are flagged and then refused with 403 everywhere; no benign address is
blocked; a moderator's `!mod unflag` lifts the block and the bot's policy rule."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from bench.moderation_sim import Population, simulate
from bots.moderation.bot import IP_RULE, BotSettings, ModerationBot
from bots.moderation.model import fit, load_training_set
from core.identifiers import UserId
from homeserver.api.http import SERVICES
from homeserver.config import RateLimits
from sdk import AsyncClient
from tests.conftest import LiveServer, make_config, serving
from tests.homeserver.moderation.helpers import status_from
from tests.waiting import wait_for

PASSWORD = "moderation test password"
FAST = ("stuff_fast", "scrape_profiles", "scrape_directory")


async def account(
    server: LiveServer, name: str, password: str = PASSWORD, *, admin: bool = False
) -> tuple[str, str]:
    """An account made directly on the server, with an access token."""
    services = server.app[SERVICES]
    user_id = await services.accounts.create_user(name, password, admin=admin)
    tokens = await services.tokens.issue(UserId(user_id), None, None, refreshable=False)
    return user_id, tokens.access_token


async def test_bot_blocks_attackers_spares_people_and_undoes(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # Real rate limits: attackers meet 429s as they would on a real server.
    config = make_config(database_url, tmp_path / "data", rate_limits=RateLimits())
    async with serving(config) as server:
        await account(server, "mod", admin=True)
        alice_id, _ = await account(server, "alice")
        client = AsyncClient(server.url)
        await client.login("mod", PASSWORD)
        settings = BotSettings(allow=("127.0.0.1",), moderators=(alice_id,), tick_s=0.3)
        bot = ModerationBot(client, fit(load_training_set()), settings)
        await bot.setup()
        running = asyncio.create_task(bot.run())
        try:

            async def make_account(name: str, password: str) -> tuple[str, str]:
                return await account(server, name, password)

            population = Population(solos=3, offices=1, office_size=4, newcomers=1, per_attack=1)
            actors = await simulate(server.url, "localhost", 5, 40.0, make_account, population)
            fast = [a for a in actors if a.category in FAST]
            await wait_for(
                lambda: all(a.ip in bot.detector.flagged for a in fast),
                what="fast attackers flagged",
            )
            for attacker in fast:
                status, body = await status_from(server, attacker.ip)
                assert (status, body["errcode"]) == (403, "M_FORBIDDEN"), attacker
            benign = [a for a in actors if a.label == 0]
            spared = {a.ip for a in benign} - set(bot.detector.flagged)
            assert spared == {a.ip for a in benign}, [
                (a.category, bot.detector.flagged[a.ip].reason())
                for a in benign
                if a.ip in bot.detector.flagged
            ]
            for person in benign:
                assert (await status_from(server, person.ip))[0] == 200, person
            blocks = await bot.api.blocks()
            assert {b["ip"] for b in blocks} == set(bot.detector.flagged)
            assert all(b["source"] == "moderation-bot" for b in blocks)
            target = fast[0].ip
            rule = await client.get_state_event(bot.policy_room, IP_RULE, f"ip:{target}")
            assert rule["entity"] == target
            assert rule["recommendation"] == "m.ban"

            # A moderator undoes the flag from the moderators' room.
            alice = AsyncClient(server.url)
            await alice.login("alice", PASSWORD)
            await alice.join(bot.moderators_room)
            await alice.send_text(bot.moderators_room, f"!mod unflag {target}")

            async def lifted() -> bool:
                return (await status_from(server, target))[0] == 200

            await wait_for(lifted, what="the block lifted")
            assert target not in bot.detector.flagged
            assert await client.get_state_event(bot.policy_room, IP_RULE, f"ip:{target}") == {}
            await alice.close()
        finally:
            bot.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await client.close()

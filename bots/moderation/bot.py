"""The moderation bot: reads the homeserver's telemetry, flags abusive IPs, has them refused.

On start it creates (or joins) its policy room (`#moderation-policy:SERVER` by default) and its
moderators' room (`#moderators:SERVER`), fits the model (`model.fit`) and follows the telemetry
stream from the newest record. Every `tick_s` it scores the IPs with news (`detector.Detector`);
on a flag it:

1. blocks the IP through the admin API (reason: score and evidence; source `moderation-bot`;
   for `block_duration_ms` if set),
2. adds an `org.tessera.policy.rule.ip` ban rule to the policy room (state key `ip:ADDRESS`,
   with score and evidence), and `m.policy.rule.user` rules for the accounts from that IP that
   sent messages or invites,
3. posts one audit line in the moderators' room.

Commands in the moderators' room (from its members): `!mod status`, `!mod explain IP`,
`!mod unflag IP` (lifts the block and empties the bot's rules for the IP and its accounts: the
undo), `!mod allow IP` (unflag, and never flag it again in this run).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass

from bots.moderation.admin_api import ModerationApi
from bots.moderation.detector import Detector, Flag
from bots.moderation.model import Scorer
from core.errors import JsonDict
from sdk import AsyncClient, Bot, MatrixRequestError, Room, RoomEvent

__all__ = ["BotSettings", "ModerationBot"]

logger = logging.getLogger("bots.moderation")

IP_RULE = "org.tessera.policy.rule.ip"
USER_RULE = "m.policy.rule.user"
SOURCE = "moderation-bot"


@dataclass(frozen=True, slots=True)
class BotSettings:
    """What the bot is configured with."""

    policy_alias: str = "moderation-policy"
    moderators_alias: str = "moderators"
    moderators: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    block_duration_ms: int | None = None
    tick_s: float = 0.5
    poll_timeout_ms: int = 10_000


class ModerationBot:
    """Stream in, flags out, blocks and rules made, commands answered."""

    def __init__(self, client: AsyncClient, scorer: Scorer, settings: BotSettings) -> None:
        self.client = client
        self.settings = settings
        self.api = ModerationApi(client)
        self.detector = Detector(scorer, own_user=client.user_id)
        for ip in settings.allow:
            self.detector.allow(ip)
        self.bot = Bot(client, prefix="!")
        self.policy_room = ""
        self.moderators_room = ""
        self.records = 0
        self._token = 0
        self.bot.command("mod")(self._command)

    async def _room(self, alias: str, name: str, invite: tuple[str, ...]) -> str:
        server = (self.client.user_id or "").split(":", 1)[1]
        try:
            return await self.client.create_room(
                name=name, preset="private_chat", room_alias_name=alias, invite=invite
            )
        except MatrixRequestError as exc:
            if exc.errcode != "M_ROOM_IN_USE":
                raise
        return await self.client.join(f"#{alias}:{server}")

    async def setup(self) -> None:
        """Create or join the policy and moderators' rooms; start from the newest record."""
        self.policy_room = await self._room(
            self.settings.policy_alias, "Moderation policy (IP and user bans)", ()
        )
        self.moderators_room = await self._room(
            self.settings.moderators_alias, "Moderators", self.settings.moderators
        )
        page = await self.api.events(since=2**53 - 1, timeout_ms=0, limit=1)
        self._token = int(page["next_token"])
        logger.info(
            "moderation bot ready policy_room=%s moderators_room=%s threshold=%.3f",
            self.policy_room,
            self.moderators_room,
            self.detector.scorer.threshold,
        )

    async def run(self) -> None:
        """Follow the stream, tick and answer commands until stopped."""
        tasks = [
            asyncio.create_task(self._follow(), name="moderation-stream"),
            asyncio.create_task(self._ticks(), name="moderation-ticks"),
        ]
        try:
            await self.bot.run(timeout_ms=10_000, close_client=False)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stop(self) -> None:
        """Ask the bot to stop."""
        self.bot.stop()

    async def _follow(self) -> None:
        while True:
            try:
                page = await self.api.events(self._token, self.settings.poll_timeout_ms)
            except (MatrixRequestError, OSError, TimeoutError) as exc:
                logger.warning("telemetry stream failed, retrying error=%s", exc)
                await asyncio.sleep(2)
                continue
            for record in page.get("events", []):
                if isinstance(record, dict):
                    self.detector.observe(record)
                    self.records += 1
            self._token = int(page["next_token"])

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_s)
            for flag in self.detector.tick():
                try:
                    await self.act(flag)
                except (MatrixRequestError, OSError, TimeoutError):
                    logger.exception("acting on a flag failed ip=%s", flag.ip)

    async def act(self, flag: Flag) -> None:
        """Block, publish the rules, write the audit line."""
        reason = flag.reason()
        await self.api.block(flag.ip, reason, SOURCE, self.settings.block_duration_ms)
        # Event content holds no floats (canonical JSON): score and evidence go as text.
        evidence = [f"{name}={value:g} (+{weight:.2f})" for name, value, weight in flag.evidence]
        rule: JsonDict = {
            "entity": flag.ip,
            "recommendation": "m.ban",
            "reason": reason,
            "org.tessera.score": f"{flag.score:.4f}",
            "org.tessera.evidence": evidence,
        }
        await self.client.put_state(self.policy_room, IP_RULE, rule, state_key=f"ip:{flag.ip}")
        for user in flag.users:
            content = {
                "entity": user,
                "recommendation": "m.ban",
                "reason": f"{reason} from {flag.ip}",
            }
            await self.client.put_state(
                self.policy_room, USER_RULE, content, state_key=f"user:{user}"
            )
        accounts = f"; accounts banned: {', '.join(flag.users)}" if flag.users else ""
        await self.client.send_text(
            self.moderators_room,
            f"Flagged and blocked {flag.ip}: {reason}{accounts}. Undo with !mod unflag {flag.ip}",
        )
        logger.info("flagged ip=%s score=%.3f users=%d", flag.ip, flag.score, len(flag.users))

    async def undo(self, ip: str) -> str:
        """Lift the bot's block and rules for `ip` and the accounts it banned from it."""
        flag = self.detector.unflag(ip)
        with contextlib.suppress(MatrixRequestError):
            await self.api.unblock(ip)
        await self.client.put_state(self.policy_room, IP_RULE, {}, state_key=f"ip:{ip}")
        for user in flag.users if flag else []:
            await self.client.put_state(self.policy_room, USER_RULE, {}, state_key=f"user:{user}")
        return f"Unflagged {ip}" + (
            f" and its accounts {', '.join(flag.users)}" if flag and flag.users else ""
        )

    async def _command(self, room: Room, event: RoomEvent, args: str) -> None:
        if room.room_id != self.moderators_room:
            return
        verb, _, rest = args.strip().partition(" ")
        rest = rest.strip()
        if verb == "status":
            answer = self.status()
        elif verb in ("explain", "unflag", "allow") and _is_ip(rest):
            if verb == "explain":
                answer = await self.explain(rest)
            elif verb == "unflag":
                answer = await self.undo(rest)
            else:
                answer = await self.undo(rest)
                self.detector.allow(rest)
                answer += "; it will not be flagged again"
        else:
            answer = "Commands: !mod status, !mod explain IP, !mod unflag IP, !mod allow IP"
        await self.bot.reply(room, answer)
        logger.info("command verb=%s by=%s", verb, event.sender)

    def status(self) -> str:
        """One line on what the bot watches and has done."""
        flagged = ", ".join(sorted(self.detector.flagged)) or "none"
        return (
            f"Watching {len(self.detector.windows)} IPs ({self.records} requests read); "
            f"threshold {self.detector.scorer.threshold:.2f}; flagged: {flagged}"
        )

    async def explain(self, ip: str) -> str:
        """The evidence about `ip`: its score, top features and the server's summary."""
        window = self.detector.windows.get(ip)
        if window is None:
            return f"No requests from {ip} seen"
        row = window.features()
        score = self.detector.scorer.scores([row])[0]
        parts = ", ".join(
            f"{name}={value:g} (+{weight:.2f})"
            for name, value, weight in self.detector.scorer.explain(row, top=5)
        )
        summary = await self.api.ip_summary(ip)
        state = "flagged" if ip in self.detector.flagged else "not flagged"
        return (
            f"{ip}: score {score:.2f} ({state}); evidence: {parts or 'none'}; "
            f"{summary.get('requests')} requests in the server's buffer, "
            f"statuses {summary.get('statuses')}, accounts {summary.get('distinct_users')}"
        )


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

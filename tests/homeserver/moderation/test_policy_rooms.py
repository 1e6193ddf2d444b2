"""Policy rooms the server follows (`moderation.policy_rooms`): an IP, user, room or server ban
rule blocks as soon as its event lands and stops when the rule is removed; rules that are not
bans or do not parse are ignored."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp

from homeserver.config import ModerationConfig
from tests.conftest import LiveServer, make_config, serving
from tests.homeserver.api.helpers import new_client
from tests.homeserver.moderation.helpers import admin_call, admin_client, status_from, unblock
from tests.http_client import ApiClient, call
from tests.waiting import wait_for

IP_RULE = "org.tessera.policy.rule.ip"


async def set_rule(admin: ApiClient, room: str, kind: str, key: str, content: object) -> None:
    await admin.ok("PUT", f"/rooms/{quote(room)}/state/{kind}/{quote(key)}", content)


async def refused(server: LiveServer, ip: str) -> bool:
    return (await status_from(server, ip))[0] == 403


async def test_rules_of_a_followed_room_block_and_unblock(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    config = make_config(
        database_url,
        tmp_path / "data",
        moderation=ModerationConfig(policy_rooms=("#policy:localhost",)),
    )
    async with serving(config) as server:
        admin = await admin_client(server, http, "mod")
        room = await admin.create_room(room_alias_name="policy", name="Policy")
        ban = {"entity": "127.0.13.0/24", "recommendation": "m.ban", "reason": "botnet"}
        await set_rule(admin, room, IP_RULE, "net", ban)
        await wait_for(lambda: refused(server, "127.0.13.5"), what="the IP rule applied")
        status, body = await status_from(server, "127.0.13.5")
        assert "botnet" in body["error"]
        assert not await refused(server, "127.0.14.5")
        status, listed = await admin_call(admin, "GET", "/ip_blocks")
        assert [(b["ip"], b["source"], b["reason"]) for b in listed["ip_blocks"]] == [
            ("127.0.13.0/24", f"policy:{room}", "botnet")
        ]
        status, body = await unblock(admin, "127.0.13.0/24")
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")

        # Removing the rule (emptying its content) lifts the block.
        await set_rule(admin, room, IP_RULE, "net", {})

        async def served() -> bool:
            return not await refused(server, "127.0.13.5")

        await wait_for(served, what="the IP rule lifted")

        # Not bans, or not parsable: ignored.
        for key, content in [
            ("a", {"entity": "127.0.15.1", "recommendation": "m.mute"}),
            ("b", {"entity": "127.0.15.0/8", "recommendation": "m.ban"}),
            ("c", {"entity": 5, "recommendation": "m.ban"}),
        ]:
            await set_rule(admin, room, IP_RULE, key, content)

        # A user rule refuses the user's requests; others are served.
        spammer = await new_client(http, server.url, "spammer1")
        friend = await new_client(http, server.url, "friend")
        rule = {"entity": "@spam*:localhost", "recommendation": "m.ban", "reason": "spam"}
        await set_rule(admin, room, "m.policy.rule.user", "spam", rule)

        async def spammer_refused() -> bool:
            status, _ = await call(http, "GET", spammer.url("/account/whoami"), token=spammer.token)
            return status == 403

        await wait_for(spammer_refused, what="the user rule applied")
        status, body = await call(http, "GET", spammer.url("/joined_rooms"), token=spammer.token)
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
        assert "policy list" in body["error"]
        await friend.ok("GET", "/account/whoami")
        assert not await refused(server, "127.0.15.1")

        # A room rule refuses joins of the room.
        other = await friend.create_room(preset="public_chat")
        rule = {"entity": other, "recommendation": "m.ban", "reason": "illegal content"}
        await set_rule(admin, room, "m.policy.rule.room", "room", rule)

        async def join_refused() -> bool:
            status, _ = await call(
                http, "POST", admin.url(f"/join/{quote(other)}"), token=admin.token, body={}
            )
            return status == 403

        await wait_for(join_refused, what="the room rule applied")

        # A server rule refuses federation requests from that server.
        rule = {"entity": "*.evil.example", "recommendation": "m.ban", "reason": "abuse"}
        await set_rule(admin, room, "m.policy.rule.server", "evil", rule)

        async def server_refused() -> bool:
            headers = {"Authorization": 'X-Matrix origin="a.evil.example",key="ed25519:1",sig="x"'}
            async with http.get(
                f"{server.url}/_matrix/federation/v1/version", headers=headers
            ) as resp:
                return resp.status == 403

        await wait_for(server_refused, what="the server rule applied")

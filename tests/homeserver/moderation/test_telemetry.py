"""Request telemetry through the admin API: one record per request with its endpoint template,
status, errcode and requester, domain signals (login targets, registrations, invites, joins,
message fingerprints), no bodies or secrets, the long poll, and the per-IP/per-user summaries."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.conftest import LiveServer
from tests.homeserver.api.helpers import new_client, try_login
from tests.homeserver.moderation.helpers import admin_call, admin_client, from_address
from tests.http_client import ApiClient, JsonBody

SEND = "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"


async def all_events(admin: ApiClient) -> list[JsonBody]:
    """Every record the buffer holds (read page by page)."""
    found: list[JsonBody] = []
    since = 0
    while True:
        status, page = await admin_call(admin, "GET", f"/events?since={since}&limit=100")
        assert status == 200, page
        found += page["events"]
        if not page["events"]:
            return found
        since = page["next_token"]


async def test_records_carry_templates_signals_and_no_secrets(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    alice = await new_client(http, server.url, "alice")
    room = await alice.create_room(preset="public_chat")
    await alice.send(room, "Cheap pills at https://spam.example/abc buy now secretword")
    await alice.invite(room, admin.user_id)
    await admin.join(room)
    async with from_address("127.0.12.1") as attacker:
        assert (await try_login(attacker, server.url, "alice", "wrong-password"))[0] == 403
        assert (await try_login(attacker, server.url, "nobody", "hunter2"))[0] == 403

    events = await all_events(admin)
    text = json.dumps(events)
    for secret in ("secretword", "wrong-password", "hunter2", alice.token, admin.token):
        assert secret not in text
    sends = [e for e in events if e["endpoint"] == SEND]
    assert len(sends) == 1
    send = sends[0]
    assert send["method"] == "PUT"
    assert send["status"] == 200
    assert send["user_id"] == alice.user_id
    assert send["device_id"] == alice.device_id
    assert send["ip"] == "127.0.0.1"
    assert send["body_bytes"] > 0
    signal = send["signal"]
    assert signal["kind"] == "message"
    assert signal["room_id"] == room
    assert signal["links"] == 1
    assert len(signal["simhash"]) == 16

    failures = [e for e in events if e["ip"] == "127.0.12.1"]
    assert [(e["status"], e["errcode"]) for e in failures] == [(403, "M_FORBIDDEN")] * 2
    assert [e["signal"]["target"] for e in failures] == ["@alice:localhost", "@nobody:localhost"]
    assert [e["signal"]["target_exists"] for e in failures] == [True, False]
    assert all(e["signal"]["ok"] is False and e["user_id"] is None for e in failures)

    kinds = {(e["signal"]["kind"], e["signal"]["ok"]) for e in events if "signal" in e}
    assert {("register", True), ("register", False), ("invite", True), ("join", True)} <= kinds
    invite = next(e for e in events if e.get("signal", {}).get("kind") == "invite")
    assert invite["signal"]["target"] == admin.user_id
    # The moderation API's own requests are not recorded.
    assert not any("/moderation/" in (e["endpoint"] or "") for e in events)


async def test_long_poll_wakes_on_a_new_record(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    status, page = await admin_call(admin, "GET", "/events?since=0&limit=1000")
    head = page["next_token"]
    status, page = await admin_call(admin, "GET", f"/events?since={head}&timeout=0")
    assert (status, page["events"], page["next_token"]) == (200, [], head)
    waiting = asyncio.create_task(admin_call(admin, "GET", f"/events?since={head}&timeout=60000"))
    await asyncio.sleep(0.2)
    async with from_address("127.0.12.2") as other:
        await other.get(f"{server.url}/_matrix/client/versions")
    status, page = await asyncio.wait_for(waiting, 30)
    assert status == 200
    assert [e["ip"] for e in page["events"]] == ["127.0.12.2"]
    assert page["events"][0]["endpoint"] == "/_matrix/client/versions"
    assert page["next_token"] == head + 1
    assert page["missed"] == 0
    for bad in ["since=-1", "since=x", "limit=0", "limit=1001", "timeout=600001"]:
        status, body = await admin_call(admin, "GET", f"/events?{bad}")
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad


async def test_summaries_per_ip_and_per_user(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    admin = await admin_client(server, http, "mod")
    async with from_address("127.0.12.3") as attacker:
        for name in ("a1", "a2", "a3"):
            await try_login(attacker, server.url, name, "guess")
        await attacker.get(f"{server.url}/nothing/here")
    status, summary = await admin_call(admin, "GET", "/ips/127.0.12.3")
    assert status == 200, summary
    assert summary["requests"] == 4
    assert summary["failed_login_targets"] == 3
    assert summary["failed_login_missing_targets"] == 3
    assert summary["statuses"] == {"403": 3, "404": 1}
    assert summary["signals"] == {"login_failed": 3}
    assert summary["blocked"] is None

    await admin.ok("GET", "/account/whoami")
    await admin.ok("GET", "/joined_rooms")
    status, summary = await admin_call(admin, "GET", f"/users/{admin.user_id}")
    assert status == 200, summary
    assert summary["requests"] == 2
    assert summary["ips"] == {"127.0.0.1": 2}
    status, body = await admin_call(admin, "GET", "/ips/not-an-ip")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await admin_call(admin, "GET", "/users/not-a-user")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

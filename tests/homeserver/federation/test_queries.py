"""Profile and room alias queries between two live servers, through their client APIs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import aiohttp

from homeserver.config_federation import RateLimitConfig
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, federation_of, signed_headers


async def test_profiles_of_remote_users(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs2.url, "alice")
    await alice.ok("PUT", "/profile/@alice:hs2.test/displayname", {"displayname": "Alice"})
    bob = await new_client(http, hs1.url, "bob")

    assert await bob.ok("GET", "/profile/@alice:hs2.test") == {"displayname": "Alice"}
    field = await bob.ok("GET", "/profile/@alice:hs2.test/displayname")
    assert field == {"displayname": "Alice"}
    status, body = await bob.request("GET", "/profile/@alice:hs2.test/avatar_url")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await bob.request("GET", "/profile/@nobody:hs2.test")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_remote_aliases_resolve(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs2.url, "alice")
    room_id = await alice.create_room(room_alias_name="lounge")
    bob = await new_client(http, hs1.url, "bob")

    resolved = await bob.ok("GET", f"/directory/room/{quote('#lounge:hs2.test', safe='')}")
    assert resolved == {"room_id": room_id, "servers": ["hs2.test"]}
    status, body = await bob.request("GET", f"/directory/room/{quote('#nope:hs2.test', safe='')}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_an_unreachable_server_is_a_502(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    bob = await new_client(http, hs1.url, "bob")
    await hs2.stop()
    status, body = await bob.request("GET", "/profile/@alice:hs2.test")
    assert status == 502, body
    status, body = await bob.request("GET", "/profile/@alice:10.0.0.1:8448")
    assert status == 502, body  # an address the IP policy refuses: never contacted


async def test_inbound_requests_are_rate_limited_per_origin(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    names = ["hs1.test", "hs2.test", "hs3.test"]
    async with federation_of(backend, tmp_path, names) as (hs1, hs2, hs3):
        await hs1.stop()
        limit = RateLimitConfig(per_second=0.001, burst=2)
        federation = replace(hs1.config.federation, inbound_rate_limit=limit)
        hs1.config = replace(hs1.config, federation=federation)
        await hs1.restart()
        uri = "/_matrix/federation/v1/query/directory?room_alias=%23a%3Ahs1.test"

        async def status_from(origin: FederatedServer) -> int:
            headers = signed_headers(origin.signing_key, origin.name, "hs1.test", "GET", uri)
            status, _ = await hs1.request(http, "GET", uri, headers=headers)
            return status

        assert [await status_from(hs2) for _ in range(3)] == [404, 404, 429]
        assert await status_from(hs3) == 404

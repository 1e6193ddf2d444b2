"""Another server's public room directory read through the client API (`/publicRooms` with
`server`), our directory served over federation (GET and filtered POST, signed requests
only), and OpenID tokens: asked for by a user, checked by a third party on the federation
listener."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from core.errors import JsonDict
from tests.homeserver.api.helpers import new_client
from tests.homeserver.federation.servers import FederatedServer, signed_headers
from tests.http_client import ApiClient, call

F1 = "/_matrix/federation/v1"


async def _public_room(client: ApiClient, name: str, topic: str) -> str:
    return await client.create_room(
        preset="public_chat", visibility="public", name=name, topic=topic
    )


def _names(page: JsonDict) -> list[str]:
    return [room.get("name", "") for room in page["chunk"]]


async def test_a_remote_servers_directory_pages_and_filters(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    lounge = await _public_room(alice, "Lounge", "chairs")
    await _public_room(alice, "Kitchen", "pots")
    await alice.create_room(preset="private_chat", name="Secret")
    bob = await new_client(http, hs2.url, "bob")

    everything = await bob.ok("GET", "/publicRooms", server="hs1.test")
    assert sorted(_names(everything)) == ["Kitchen", "Lounge"]
    assert everything["total_room_count_estimate"] == 2
    entry = next(r for r in everything["chunk"] if r["room_id"] == lounge)
    assert entry["topic"] == "chairs"
    assert entry["num_joined_members"] == 1
    assert entry["world_readable"] is False

    first = await bob.ok("GET", "/publicRooms", server="hs1.test", limit=1)
    assert len(first["chunk"]) == 1
    second = await bob.ok(
        "GET", "/publicRooms", server="hs1.test", limit=1, since=first["next_batch"]
    )
    assert sorted(_names(first) + _names(second)) == ["Kitchen", "Lounge"]

    body = {"filter": {"generic_search_term": "chair"}, "limit": 5}
    filtered = await bob.ok("POST", "/publicRooms", body, server="hs1.test")
    assert _names(filtered) == ["Lounge"]

    status, answer = await call(
        http, "GET", f"{hs2.url}/_matrix/client/v3/publicRooms?server=hs1.test"
    )
    assert (status, answer["errcode"]) == (401, "M_MISSING_TOKEN")
    status, answer = await bob.request("GET", "/publicRooms", server="not a server!")
    assert (status, answer["errcode"]) == (400, "M_INVALID_PARAM")
    status, answer = await bob.request("GET", "/publicRooms", server="hs1.test", since="junk")
    assert status == 502, answer


async def test_the_directory_is_served_to_signed_requests_only(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    alice = await new_client(http, hs1.url, "alice")
    await _public_room(alice, "Lounge", "chairs")
    await _public_room(alice, "Kitchen", "pots")

    uri = f"{F1}/publicRooms?limit=1&include_all_networks=false"
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "GET", uri)
    status, page = await hs1.request(http, "GET", uri, headers=headers)
    assert status == 200, page
    assert len(page["chunk"]) == 1
    assert "next_batch" in page

    uri = f"{F1}/publicRooms"
    body: JsonDict = {"filter": {"generic_search_term": "pots"}}
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "POST", uri, body)
    status, page = await hs1.request(http, "POST", uri, headers=headers, body=body)
    assert (status, _names(page)) == (200, ["Kitchen"]), page

    status, page = await hs1.request(http, "GET", uri)
    assert (status, page["errcode"]) == (401, "M_UNAUTHORIZED")
    bad = {"filter": {"room_types": "m.space"}}
    headers = signed_headers(hs2.signing_key, hs2.name, hs1.name, "POST", uri, bad)
    status, page = await hs1.request(http, "POST", uri, headers=headers, body=bad)
    assert (status, page["errcode"]) == (400, "M_INVALID_PARAM")


async def test_openid_tokens_are_checked_on_the_federation_listener(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    _hs1, hs2 = pair
    bob = await new_client(http, hs2.url, "bob")
    carol = await new_client(http, hs2.url, "carol")

    path = f"/user/{quote(bob.user_id)}/openid/request_token"
    issued = await bob.ok("POST", path, {})
    assert issued["token_type"] == "Bearer"
    assert issued["matrix_server_name"] == "hs2.test"
    assert isinstance(issued["expires_in"], int)
    assert issued["expires_in"] > 0
    again = await bob.ok("POST", path, {})
    assert again["access_token"] != issued["access_token"]

    for token in (issued["access_token"], again["access_token"]):
        uri = f"{F1}/openid/userinfo?access_token={quote(token)}"
        status, info = await hs2.request(http, "GET", uri)
        assert (status, info) == (200, {"sub": bob.user_id})

    for uri in (
        f"{F1}/openid/userinfo?access_token=nope",
        f"{F1}/openid/userinfo",
        f"{F1}/openid/userinfo?access_token={quote(bob.token)}",  # a client token is no OpenID one
    ):
        status, info = await hs2.request(http, "GET", uri)
        assert (status, info["errcode"]) == (401, "M_UNKNOWN_TOKEN"), uri

    status, refused = await carol.request("POST", path, {})
    assert (status, refused["errcode"]) == (403, "M_FORBIDDEN")
    status, refused = await call(http, "POST", f"{hs2.url}/_matrix/client/v3{path}", body={})
    assert (status, refused["errcode"]) == (401, "M_MISSING_TOKEN")

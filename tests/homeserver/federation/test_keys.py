"""Server keys over a live TLS federation listener: our key document, the notary, rotation."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from core.identifiers import ServerName
from core.signing import sign_json, verify_json_signature
from federation.client import ClientSettings, FederationClient
from federation.ip_policy import IpPolicy
from federation.keyring import Keyring
from federation.server_keys import verify_key_document
from homeserver.__main__ import main
from homeserver.clock import SystemClock
from tests.federation.helpers import MemoryKeyStore
from tests.homeserver.federation.servers import FederatedServer, federation_of


def _keyring(server: FederatedServer, peers: dict[str, str]) -> tuple[Keyring, FederationClient]:
    """A keyring of a server outside the federation, trusting the test CA."""
    clock = SystemClock()
    client = FederationClient(
        ClientSettings(
            server_name="observer.test",
            ca_certificates_path=str(server.ca.ca_path),
            overrides=peers,
        ),
        server.signing_key,  # any key: key requests need no authentication
        clock=clock,
        policy=IpPolicy.from_config(None, ["127.0.0.0/8"]),
    )
    return Keyring(store=MemoryKeyStore(), client=client, clock=clock), client


async def test_key_document_is_self_signed_and_current(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, _ = pair
    status, document = await hs1.request(http, "GET", "/_matrix/key/v2/server")
    assert status == 200
    now = SystemClock().time_ms()
    keys = verify_key_document(
        document, server_name=ServerName("hs1.test"), fetched_from=ServerName("hs1"), now_ms=now
    )
    assert [k.key_id for k in keys] == [hs1.signing_key.key_id]
    assert document["valid_until_ts"] > now
    assert document["old_verify_keys"] == {}


async def test_version_and_no_client_api_on_the_federation_port(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, _ = pair
    status, body = await hs1.request(http, "GET", "/_matrix/federation/v1/version")
    assert status == 200
    assert body["server"]["name"] == "Tessera"
    status, body = await hs1.request(http, "GET", "/_matrix/client/versions")
    assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED")


async def test_notary_relays_another_servers_document_with_its_signature(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    status, body = await hs1.request(http, "GET", "/_matrix/key/v2/query/hs2.test")
    assert status == 200
    (document,) = body["server_keys"]
    now = SystemClock().time_ms()
    keys = verify_key_document(
        document,
        server_name=ServerName("hs2.test"),
        fetched_from=ServerName("hs1.test"),
        now_ms=now,
    )
    assert [k.key_id for k in keys] == [hs2.signing_key.key_id]
    hs1_key = hs1.signing_key
    verify_json_signature(document, "hs1.test", hs1_key.key_id, hs1_key.verify_key)

    query = {
        "server_keys": {
            "hs1.test": {},
            "hs2.test": {hs2.signing_key.key_id: {"minimum_valid_until_ts": now}},
            "10.0.0.1": {},  # refused by the IP policy: left out, not an error
        }
    }
    status, body = await hs1.request(http, "POST", "/_matrix/key/v2/query", body=query)
    assert status == 200
    assert sorted(d["server_name"] for d in body["server_keys"]) == ["hs1.test", "hs2.test"]


async def test_notary_serves_a_stored_document_while_the_server_is_down(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    status, _ = await hs1.request(http, "GET", "/_matrix/key/v2/query/hs2.test")
    assert status == 200
    await hs2.stop()
    status, body = await hs1.request(http, "GET", "/_matrix/key/v2/query/hs2.test")
    assert status == 200
    assert [d["server_name"] for d in body["server_keys"]] == ["hs2.test"]


async def test_notary_refuses_a_malformed_query(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, _ = pair
    bodies: list[dict[str, object]] = [{"server_keys": []}, {"server_keys": {"bad name!": {}}}]
    for body in bodies:
        status, answer = await hs1.request(http, "POST", "/_matrix/key/v2/query", body=body)
        assert status == 400, answer


async def test_rotation_keeps_old_signatures_verifiable(backend: str, tmp_path: Path) -> None:
    async with federation_of(backend, tmp_path, ["hs1.test"]) as (hs1,):
        old_key = hs1.signing_key
        signed_at = SystemClock().time_ms()
        signed = sign_json({"thing": "signed before the rotation"}, "hs1.test", old_key)
        await hs1.stop()
        assert main(["rotate-signing-key", "--data-dir", str(hs1.config.data_dir)]) == 0
        await hs1.restart()
        assert hs1.signing_key.key_id != old_key.key_id

        peers = {"hs1.test": f"127.0.0.1:{hs1.federation_port}"}
        keyring, client = _keyring(hs1, peers)
        try:
            await keyring.verify_json_for_server(ServerName("hs1.test"), signed, signed_at)
            document = await client.get_json("hs1.test", "/_matrix/key/v2/server")
        finally:
            await client.close()
        assert list(document["verify_keys"]) == [hs1.signing_key.key_id]
        old = document["old_verify_keys"][old_key.key_id]
        assert old["key"] == old_key.verify_key.encode()
        assert old["expired_ts"] >= signed_at

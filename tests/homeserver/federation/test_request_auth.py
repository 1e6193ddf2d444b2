"""X-Matrix authentication of inbound federation requests on a live server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp

from core.signing import generate_signing_key
from tests.homeserver.api.helpers import register
from tests.homeserver.federation.servers import FederatedServer, federation_of, signed_headers

URI = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Ahs1.test"


async def _errcode(
    hs1: FederatedServer, http: aiohttp.ClientSession, headers: dict[str, str]
) -> tuple[int, str | None]:
    status, body = await hs1.request(http, "GET", URI, headers=headers)
    return status, body.get("errcode")


async def test_only_validly_signed_requests_for_us_are_answered(
    pair: list[FederatedServer], http: aiohttp.ClientSession
) -> None:
    hs1, hs2 = pair
    await register(http, hs1.url, "alice")
    unauthorized = (401, "M_UNAUTHORIZED")

    assert await _errcode(hs1, http, {}) == unauthorized
    assert await _errcode(hs1, http, {"Authorization": "X-Matrix origin=hs2.test"}) == unauthorized
    assert await _errcode(hs1, http, {"Authorization": "Bearer abc"}) == unauthorized

    # Signed with a key that is not hs2's, under hs2's key ID.
    forged_key = generate_signing_key(hs2.signing_key.version)
    forged = signed_headers(forged_key, "hs2.test", "hs1.test", "GET", URI)
    assert await _errcode(hs1, http, forged) == unauthorized

    # hs2's real key, but the request was meant for another server.
    misdirected = signed_headers(hs2.signing_key, "hs2.test", "hs3.test", "GET", URI)
    assert await _errcode(hs1, http, misdirected) == unauthorized

    # hs2's real key over another URI than the one requested.
    other_uri = URI.replace("alice", "bob")
    replayed = signed_headers(hs2.signing_key, "hs2.test", "hs1.test", "GET", other_uri)
    assert await _errcode(hs1, http, replayed) == unauthorized

    good = signed_headers(hs2.signing_key, "hs2.test", "hs1.test", "GET", URI)
    status, body = await hs1.request(http, "GET", URI, headers=good)
    assert (status, body) == (200, {"displayname": "alice"})


async def test_origins_outside_the_domain_allowlist_are_refused(
    backend: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    names = ["hs1.test", "hs2.test", "hs3.test"]
    async with federation_of(backend, tmp_path, names) as (hs1, hs2, hs3):
        await hs1.stop()
        federation = replace(hs1.config.federation, domain_allowlist=("hs2.test",))
        hs1.config = replace(hs1.config, federation=federation)
        await hs1.restart()
        ok = signed_headers(hs2.signing_key, "hs2.test", "hs1.test", "GET", URI)
        assert (await _errcode(hs1, http, ok))[0] == 404  # allowed; alice does not exist
        refused = signed_headers(hs3.signing_key, "hs3.test", "hs1.test", "GET", URI)
        assert await _errcode(hs1, http, refused) == (403, "M_FORBIDDEN")

"""OpenID tokens on each backend with a fake clock: a token names its user until it expires,
only hashes are stored, a user may ask only for their own, and a user's live tokens are
capped (the oldest go first)."""

from __future__ import annotations

import pytest

from core.errors import MatrixError
from core.identifiers import DeviceId, UserId
from homeserver.services.accounts.openid import TOKEN_LIFETIME_MS, OpenIdService
from homeserver.services.accounts.tokens import hash_token
from homeserver.services.common.requester import Requester
from homeserver.storage.accounts.openid import MAX_LIVE_PER_USER
from homeserver.storage.factory import Stores
from tests.homeserver.fake_clock import FakeClock

ALICE = Requester(UserId("@alice:hs.test"), DeviceId("A"), False, "hash")


async def _refused(openid: OpenIdService, token: str | None) -> str:
    with pytest.raises(MatrixError) as raised:
        await openid.userinfo(token)
    assert raised.value.status == 401
    return raised.value.errcode


async def test_a_token_names_its_user_until_it_expires(stores: Stores) -> None:
    clock = FakeClock()
    openid = OpenIdService(server_name="hs.test", store=stores.openid_tokens, clock=clock)
    issued = await openid.request_token(ALICE, "@alice:hs.test")
    assert issued["expires_in"] == TOKEN_LIFETIME_MS // 1000
    assert await openid.userinfo(issued["access_token"]) == {"sub": "@alice:hs.test"}
    stored = await stores.db.fetch_all("SELECT token_hash FROM openid_tokens")
    assert [r["token_hash"] for r in stored] == [hash_token(issued["access_token"])]

    clock.advance(TOKEN_LIFETIME_MS - 1)
    assert await openid.userinfo(issued["access_token"]) == {"sub": "@alice:hs.test"}
    clock.advance(1)
    assert await _refused(openid, issued["access_token"]) == "M_UNKNOWN_TOKEN"
    assert await _refused(openid, None) == "M_UNKNOWN_TOKEN"
    assert await _refused(openid, "") == "M_UNKNOWN_TOKEN"

    await openid.request_token(ALICE, "@alice:hs.test")
    assert await stores.db.fetch_val("SELECT COUNT(*) FROM openid_tokens") == 1  # expired gone


async def test_only_ones_own_and_a_bounded_number(stores: Stores) -> None:
    clock = FakeClock()
    openid = OpenIdService(server_name="hs.test", store=stores.openid_tokens, clock=clock)
    for user_id in ("@bob:hs.test", "not a user"):
        with pytest.raises(MatrixError) as raised:
            await openid.request_token(ALICE, user_id)
        assert raised.value.errcode in ("M_FORBIDDEN", "M_INVALID_PARAM")

    tokens = []
    for _ in range(MAX_LIVE_PER_USER + 2):
        tokens.append((await openid.request_token(ALICE, "@alice:hs.test"))["access_token"])
        clock.advance(1)
    for token in tokens[:2]:
        assert await _refused(openid, token) == "M_UNKNOWN_TOKEN"
    for token in tokens[2:]:
        assert await openid.userinfo(token) == {"sub": "@alice:hs.test"}

"""The account stores on both backends: users, devices, tokens, profiles, account data, UIA."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import asyncpg
import pytest

from homeserver.storage.accounts.account_data import GLOBAL
from homeserver.storage.accounts.tokens import NewSession
from homeserver.storage.accounts.ui_auth import UiAuthSession
from homeserver.storage.factory import Stores, open_stores
from homeserver.storage.streams import current_position

ALICE = "@alice:localhost"
BOB = "@bob:localhost"
NOW = 1_700_000_000_000


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[Stores]:
    """Migrated stores with the users alice and bob."""
    opened = await open_stores(database_url)
    try:
        for user_id in (ALICE, BOB):
            assert await opened.users.create_user(user_id, "hash", is_admin=False, now_ms=NOW)
        yield opened
    finally:
        await opened.close()


def _session(
    device_id: str,
    access: str,
    refresh: str | None = None,
    *,
    user_id: str = ALICE,
    name: str | None = None,
) -> NewSession:
    return NewSession(
        user_id=user_id,
        device_id=device_id,
        device_display_name=name,
        access_hash=access,
        refresh_hash=refresh,
        expires_ts=NOW + 60_000 if refresh else None,
    )


# --- users ------------------------------------------------------------------------------------


async def test_create_user_twice_is_refused(stores: Stores) -> None:
    assert not await stores.users.create_user(ALICE, "other", is_admin=True, now_ms=NOW + 1)
    user = await stores.users.get_user(ALICE)
    assert user is not None
    assert (user.password_hash, user.is_admin, user.created_ts) == ("hash", False, NOW)
    assert await stores.users.count_users() == 2


async def test_user_fields(stores: Stores) -> None:
    assert await stores.users.create_user("@carol:localhost", None, is_admin=True, now_ms=5)
    carol = await stores.users.get_user("@carol:localhost")
    assert carol is not None
    assert (carol.password_hash, carol.is_admin, carol.deactivated) == (None, True, False)
    assert await stores.users.get_user("@nobody:localhost") is None

    await stores.users.set_password_hash(ALICE, "new hash")
    await stores.users.set_admin(ALICE, True)
    alice = await stores.users.get_user(ALICE)
    assert alice is not None
    assert (alice.password_hash, alice.is_admin) == ("new hash", True)

    await stores.users.deactivate(ALICE)
    alice = await stores.users.get_user(ALICE)
    assert alice is not None
    assert (alice.deactivated, alice.password_hash) == (True, None)


# --- devices and tokens -----------------------------------------------------------------------


async def test_create_session_and_lookup(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1", name="Phone"), NOW, replace=False)
    record = await stores.tokens.lookup("a1")
    assert record is not None
    assert (record.user_id, record.device_id, record.expires_ts) == (ALICE, "DEV1", None)
    assert (record.deactivated, record.is_admin) == (False, False)
    assert await stores.tokens.lookup("unknown") is None

    device = await stores.devices.get_device(ALICE, "DEV1")
    assert device is not None
    assert (device.display_name, device.last_seen_ts, device.last_seen_ip) == ("Phone", None, None)


async def test_lookup_reflects_user_flags(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1"), NOW, replace=False)
    await stores.users.set_admin(ALICE, True)
    await stores.users.deactivate(ALICE)
    record = await stores.tokens.lookup("a1")
    assert record is not None
    assert (record.deactivated, record.is_admin) == (True, True)


async def test_login_on_existing_device_keeps_name_unless_given(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1", name="Phone"), NOW, replace=False)
    await stores.tokens.create_session(_session("DEV1", "a2"), NOW, replace=False)
    device = await stores.devices.get_device(ALICE, "DEV1")
    assert device is not None
    assert device.display_name == "Phone"
    # Without `replace` both tokens work; with it the earlier ones go.
    assert await stores.tokens.lookup("a1") is not None
    await stores.tokens.create_session(_session("DEV1", "a3", name="New"), NOW, replace=True)
    assert await stores.tokens.lookup("a1") is None
    assert await stores.tokens.lookup("a2") is None
    assert await stores.tokens.lookup("a3") is not None
    device = await stores.devices.get_device(ALICE, "DEV1")
    assert device is not None
    assert device.display_name == "New"


async def test_devices_listing_rename_and_touch(stores: Stores) -> None:
    for device_id in ("B", "A"):
        await stores.tokens.create_session(
            _session(device_id, f"tok{device_id}"), NOW, replace=False
        )
    await stores.tokens.create_session(_session("C", "tokC", user_id=BOB), NOW, replace=False)
    assert [d.device_id for d in await stores.devices.get_devices(ALICE)] == ["A", "B"]

    assert await stores.devices.set_display_name(ALICE, "A", "Laptop")
    assert not await stores.devices.set_display_name(ALICE, "C", "not alice's")
    assert not await stores.devices.set_display_name(ALICE, "NOPE", "x")
    await stores.devices.touch(ALICE, "A", "10.0.0.1", NOW + 5)
    device = await stores.devices.get_device(ALICE, "A")
    assert device is not None
    assert (device.display_name, device.last_seen_ts, device.last_seen_ip) == (
        "Laptop",
        NOW + 5,
        "10.0.0.1",
    )
    bob_device = await stores.devices.get_device(BOB, "C")
    assert bob_device is not None
    assert bob_device.display_name is None


async def test_delete_device_removes_its_tokens(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1", "r1"), NOW, replace=False)
    await stores.tokens.create_session(_session("DEV2", "a2", "r2"), NOW, replace=False)
    await stores.tokens.delete_device(ALICE, "DEV1")
    assert await stores.devices.get_device(ALICE, "DEV1") is None
    assert await stores.tokens.lookup("a1") is None
    assert await stores.tokens.refresh_owner("r1") is None
    # The other device is untouched.
    assert await stores.tokens.lookup("a2") is not None
    assert await stores.tokens.refresh_owner("r2") == (ALICE, "DEV2")


async def test_device_store_delete_devices(stores: Stores) -> None:
    for n in (1, 2, 3):
        await stores.tokens.create_session(_session(f"D{n}", f"a{n}", f"r{n}"), NOW, replace=False)
    await stores.devices.delete_devices(ALICE, ["D1", "D3", "UNKNOWN"])
    assert [d.device_id for d in await stores.devices.get_devices(ALICE)] == ["D2"]
    for gone in ("a1", "a3"):
        assert await stores.tokens.lookup(gone) is None
    assert await stores.tokens.refresh_owner("r3") is None
    assert await stores.tokens.lookup("a2") is not None


async def test_delete_devices_except(stores: Stores) -> None:
    for n in (1, 2, 3):
        await stores.tokens.create_session(_session(f"D{n}", f"a{n}", f"r{n}"), NOW, replace=False)
    await stores.tokens.create_session(_session("B1", "b1", user_id=BOB), NOW, replace=False)

    deleted = await stores.tokens.delete_devices_except(ALICE, "D2")
    assert sorted(deleted) == ["D1", "D3"]
    assert [d.device_id for d in await stores.devices.get_devices(ALICE)] == ["D2"]
    assert await stores.tokens.lookup("a1") is None
    assert await stores.tokens.lookup("a3") is None
    assert await stores.tokens.refresh_owner("r1") is None
    assert await stores.tokens.lookup("a2") is not None
    assert await stores.tokens.refresh_owner("r2") == (ALICE, "D2")
    # Other users keep their devices.
    assert await stores.tokens.lookup("b1") is not None

    assert await stores.tokens.delete_devices_except(ALICE, None) == ["D2"]
    assert await stores.devices.get_devices(ALICE) == []
    assert await stores.tokens.lookup("a2") is None
    assert await stores.tokens.refresh_owner("r2") is None


# --- refresh ----------------------------------------------------------------------------------


async def test_refresh_swaps_the_pair(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1", "r1"), NOW, replace=False)
    assert await stores.tokens.refresh("r1", _session("DEV1", "a2", "r2"), NOW + 1)
    assert await stores.tokens.lookup("a1") is None
    assert await stores.tokens.refresh_owner("r1") is None
    record = await stores.tokens.lookup("a2")
    assert record is not None
    assert (record.device_id, record.expires_ts) == ("DEV1", NOW + 60_000)
    assert await stores.tokens.refresh_owner("r2") == (ALICE, "DEV1")
    # A used refresh token cannot be replayed.
    assert not await stores.tokens.refresh("r1", _session("DEV1", "a3", "r3"), NOW + 2)
    assert await stores.tokens.lookup("a3") is None
    assert await stores.tokens.lookup("a2") is not None


async def test_refresh_refuses_unknown_or_foreign_tokens(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1", "r1"), NOW, replace=False)
    assert not await stores.tokens.refresh("nope", _session("DEV1", "a2", "r2"), NOW)
    assert not await stores.tokens.refresh("r1", _session("DEV2", "a2", "r2"), NOW)
    assert not await stores.tokens.refresh("r1", _session("DEV1", "a2", "r2", user_id=BOB), NOW)
    assert await stores.tokens.lookup("a1") is not None
    assert await stores.tokens.refresh_owner("r1") == (ALICE, "DEV1")
    assert await stores.tokens.lookup("a2") is None


async def test_refresh_failing_half_way_changes_nothing(stores: Stores) -> None:
    await stores.tokens.create_session(_session("DEV1", "a1", "r1"), NOW, replace=False)
    await stores.tokens.create_session(_session("DEV2", "taken", "r9"), NOW, replace=False)
    # The new access hash collides with an existing one: the insert fails after the deletes.
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await stores.tokens.refresh("r1", _session("DEV1", "taken", "r2"), NOW + 1)
    assert await stores.tokens.lookup("a1") is not None
    assert await stores.tokens.refresh_owner("r1") == (ALICE, "DEV1")
    assert await stores.tokens.refresh_owner("r2") is None
    taken = await stores.tokens.lookup("taken")
    assert taken is not None
    assert taken.device_id == "DEV2"


# --- profiles ---------------------------------------------------------------------------------


async def test_profile_starts_with_localpart(stores: Stores) -> None:
    assert await stores.profiles.get_profile(ALICE) == ("alice", None)
    assert await stores.profiles.get_profile("@nobody:localhost") is None


async def test_profile_set_fields(stores: Stores) -> None:
    await stores.profiles.set_field(ALICE, "displayname", "Alice ✓")
    await stores.profiles.set_field(ALICE, "avatar_url", "mxc://localhost/a")
    assert await stores.profiles.get_profile(ALICE) == ("Alice ✓", "mxc://localhost/a")
    await stores.profiles.set_field(ALICE, "displayname", None)
    assert await stores.profiles.get_profile(ALICE) == (None, "mxc://localhost/a")
    assert await stores.profiles.get_profile(BOB) == ("bob", None)


async def test_profile_refuses_unknown_field(stores: Stores) -> None:
    with pytest.raises(ValueError, match="unknown profile field"):
        await stores.profiles.set_field(ALICE, "user_id = user_id; --", "x")


# --- account data -----------------------------------------------------------------------------


async def test_account_data_round_trip(stores: Stores) -> None:
    assert await stores.account_data.get(ALICE, GLOBAL, "m.example") is None
    content = {"nested": {"list": [1, 2.5, None, True]}, "text": "héllo ✓"}
    await stores.account_data.put(ALICE, GLOBAL, "m.example", content)
    assert await stores.account_data.get(ALICE, GLOBAL, "m.example") == content
    # Global and per-room data of the same type, and other users, are separate.
    assert await stores.account_data.get(ALICE, "!room:localhost", "m.example") is None
    assert await stores.account_data.get(BOB, GLOBAL, "m.example") is None
    await stores.account_data.put(ALICE, "!room:localhost", "m.example", {"room": True})
    assert await stores.account_data.get(ALICE, GLOBAL, "m.example") == content


async def test_account_data_stream_positions_increase(stores: Stores) -> None:
    assert await current_position(stores.db, "account_data") == 0
    first = await stores.account_data.put(ALICE, GLOBAL, "a", {"v": 1})
    second = await stores.account_data.put(BOB, GLOBAL, "a", {"v": 1})
    third = await stores.account_data.put(ALICE, "!r:localhost", "b", {"v": 1})
    fourth = await stores.account_data.put(ALICE, GLOBAL, "a", {"v": 2})  # an overwrite
    assert first < second < third < fourth
    assert await current_position(stores.db, "account_data") == fourth

    assert await stores.account_data.get_all(ALICE) == [
        ("!r:localhost", "b", {"v": 1}),
        (GLOBAL, "a", {"v": 2}),
    ]
    assert await stores.account_data.get_all(ALICE, since=third) == [(GLOBAL, "a", {"v": 2})]
    assert await stores.account_data.get_all(ALICE, since=fourth) == []
    assert await stores.account_data.get_all(BOB, since=first) == [(GLOBAL, "a", {"v": 1})]


# --- user-interactive auth --------------------------------------------------------------------


async def test_ui_auth_session_lifecycle(stores: Stores) -> None:
    session = UiAuthSession(
        session_id="s1",
        user_id=None,
        request_key="POST /register",
        completed=[],
        params={},
        created_ts=NOW,
    )
    await stores.ui_auth.create_session(session)
    assert await stores.ui_auth.get_session("s1") == session
    assert await stores.ui_auth.get_session("unknown") is None

    await stores.ui_auth.mark_completed("s1", ["m.login.dummy"])
    await stores.ui_auth.mark_params("s1", {"registration_token": "tok"})
    loaded = await stores.ui_auth.get_session("s1")
    assert loaded is not None
    assert loaded.completed == ["m.login.dummy"]
    assert loaded.params == {"registration_token": "tok"}

    await stores.ui_auth.delete_session("s1")
    assert await stores.ui_auth.get_session("s1") is None


async def test_ui_auth_sessions_expire(stores: Stores) -> None:
    for n, created in enumerate((NOW - 2000, NOW - 1000, NOW)):
        await stores.ui_auth.create_session(
            UiAuthSession(f"s{n}", ALICE, "POST /delete_devices", [], {}, created)
        )
    assert await stores.ui_auth.delete_sessions_before(NOW - 500) == 2
    assert await stores.ui_auth.get_session("s0") is None
    assert await stores.ui_auth.get_session("s1") is None
    kept = await stores.ui_auth.get_session("s2")
    assert kept is not None
    assert kept.user_id == ALICE
    assert await stores.ui_auth.delete_sessions_before(NOW - 500) == 0


async def test_registration_token_single_use(stores: Stores) -> None:
    await stores.ui_auth.add_registration_token("once", uses_allowed=1, expiry_ts=None)
    assert await stores.ui_auth.registration_token_valid("once", NOW)
    assert await stores.ui_auth.use_registration_token("once", NOW)
    assert not await stores.ui_auth.registration_token_valid("once", NOW)
    assert not await stores.ui_auth.use_registration_token("once", NOW)


async def test_registration_token_counts_uses(stores: Stores) -> None:
    await stores.ui_auth.add_registration_token("thrice", uses_allowed=3, expiry_ts=None)
    results = [await stores.ui_auth.use_registration_token("thrice", NOW) for _ in range(4)]
    assert results == [True, True, True, False]
    assert (
        await stores.db.fetch_val(
            "SELECT completed FROM registration_tokens WHERE token = $1", "thrice"
        )
        == 3
    )


async def test_registration_token_unlimited(stores: Stores) -> None:
    await stores.ui_auth.add_registration_token("open", uses_allowed=None, expiry_ts=None)
    for _ in range(5):
        assert await stores.ui_auth.use_registration_token("open", NOW)
    assert await stores.ui_auth.registration_token_valid("open", NOW)


async def test_registration_token_expiry(stores: Stores) -> None:
    await stores.ui_auth.add_registration_token("soon", uses_allowed=None, expiry_ts=NOW + 10)
    assert await stores.ui_auth.registration_token_valid("soon", NOW + 9)
    assert not await stores.ui_auth.registration_token_valid("soon", NOW + 10)
    assert not await stores.ui_auth.use_registration_token("soon", NOW + 10)
    assert not await stores.ui_auth.use_registration_token("soon", NOW + 1000)
    assert await stores.ui_auth.use_registration_token("soon", NOW)


async def test_registration_token_unknown(stores: Stores) -> None:
    assert not await stores.ui_auth.registration_token_valid("nope", NOW)
    assert not await stores.ui_auth.use_registration_token("nope", NOW)

"""Filters and user-interactive auth sessions keep "accepted means readable", on both backends:
JSON that could not be read back is refused on write, and a stored row that does not read back is
skipped (logged, never returned) instead of failing the request that reads it."""

from __future__ import annotations

import json

import aiohttp
import pytest

from core.errors import MatrixError
from core.identifiers import UserId
from homeserver.app.app_keys import STORES
from homeserver.storage.accounts.ui_auth import UiAuthSession
from homeserver.storage.factory import Stores
from tests.conftest import LiveServer
from tests.homeserver.hardening.helpers import nested, raw_user

ALICE = UserId("@alice:localhost")
DEEP = json.loads(nested(600))  # deeper than any JSON column may hold
LONE_SURROGATE = "\ud800x"


def session(session_id: str, params: dict[str, object]) -> UiAuthSession:
    """A fresh registration UIA session with `params`."""
    return UiAuthSession(session_id, None, "register", [], params, created_ts=0)


@pytest.mark.parametrize("definition", [DEEP, {"event_fields": [LONE_SURROGATE]}])
async def test_unreadable_filter_is_refused_on_write(stores: Stores, definition: object) -> None:
    with pytest.raises(MatrixError) as refused:
        await stores.sync.add_filter(ALICE, definition)  # type: ignore[arg-type]
    assert refused.value.errcode == "M_BAD_JSON"


async def test_unreadable_filter_row_is_skipped(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"room": {"timeline": {"limit": 5}}}
    kept = await stores.sync.add_filter(ALICE, good)
    poisoned = await stores.sync.add_filter(ALICE, {"presence": {"limit": 1}})
    await stores.db.execute(
        "UPDATE user_filters SET filter_json = $1 WHERE user_id = $2 AND filter_id = $3",
        nested(600).decode(),
        ALICE,
        poisoned,
    )
    assert await stores.sync.get_filter(ALICE, poisoned) is None
    assert await stores.sync.get_filter(ALICE, kept) == good
    assert await stores.sync.add_filter(ALICE, good) == kept  # equal definitions share an ID
    assert any("table=user_filters" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("params", [{"registration_token": LONE_SURROGATE}, {"deep": DEEP}])
async def test_unreadable_uia_params_are_refused_on_write(
    stores: Stores, params: dict[str, object]
) -> None:
    with pytest.raises(MatrixError) as refused:
        await stores.ui_auth.create_session(session("new", params))
    assert refused.value.errcode == "M_BAD_JSON"
    await stores.ui_auth.create_session(session("kept", {}))
    with pytest.raises(MatrixError):
        await stores.ui_auth.mark_params("kept", params)
    stored = await stores.ui_auth.get_session("kept")
    assert stored is not None
    assert stored.params == {}


async def test_unreadable_uia_row_is_skipped(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    for session_id in ("good", "bad"):
        await stores.ui_auth.create_session(session(session_id, {"n": 1}))
    await stores.db.execute(
        "UPDATE ui_auth_sessions SET params = $1 WHERE session_id = $2",
        '{"registration_token":"\\ud800"}',
        "bad",
    )
    assert await stores.ui_auth.get_session("bad") is None
    good = await stores.ui_auth.get_session("good")
    assert good is not None
    assert good.params == {"n": 1}
    skipped = [r.getMessage() for r in caplog.records if "table=ui_auth_sessions" in r.getMessage()]
    assert skipped
    assert not any("bad" in message.split("key=")[1] for message in skipped)  # no session ID


async def test_sync_with_an_unreadable_filter_is_not_found(
    server: LiveServer, http: aiohttp.ClientSession
) -> None:
    alice = await raw_user(http, server.url, "alice")
    path = f"/user/{alice.user_id}/filter"
    filter_id = (await alice.ok("POST", path, {"room": {"timeline": {"limit": 1}}}))["filter_id"]
    await server.app[STORES].db.execute(
        "UPDATE user_filters SET filter_json = $1 WHERE user_id = $2",
        nested(600).decode(),
        alice.user_id,
    )
    status, body = await alice.send("GET", f"/sync?filter={filter_id}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await alice.send("GET", f"{path}/{filter_id}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")

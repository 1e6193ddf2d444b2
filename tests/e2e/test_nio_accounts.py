"""matrix-nio as a real client against the live homeserver, on SQLite and PostgreSQL.

Every check asserts on nio's own response types, so a server reply nio cannot parse (a missing
required field, a wrong status) shows up as an `...Error` instance rather than passing silently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import nio
import pytest
from nio.responses import RegisterErrorResponse

from tests.conftest import LiveServer

PASSWORD = "correct horse battery staple"

# Fail fast instead of nio's default of retrying 429s and timeouts forever.
_CONFIG = nio.AsyncClientConfig(
    max_limit_exceeded=0,
    max_timeouts=0,
    request_timeout=120,
    encryption_enabled=False,
    store_sync_tokens=False,
)

ClientFactory = Callable[..., nio.AsyncClient]


@pytest.fixture
async def make_client(server: LiveServer) -> AsyncIterator[ClientFactory]:
    """Builds nio clients for the live server and closes them all afterwards."""
    clients: list[nio.AsyncClient] = []

    def make(user: str = "") -> nio.AsyncClient:
        client = nio.AsyncClient(server.url, user, config=_CONFIG)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def _registered(make_client: ClientFactory, name: str = "alice") -> nio.AsyncClient:
    client = make_client()
    response = await client.register(name, PASSWORD, device_name="nio register")
    assert isinstance(response, nio.RegisterResponse), response
    return client


async def _logged_in(make_client: ClientFactory, name: str, device_name: str) -> nio.AsyncClient:
    client = make_client(name)
    response = await client.login(PASSWORD, device_name=device_name)
    assert isinstance(response, nio.LoginResponse), response
    return client


async def test_register_logs_the_client_in(make_client: ClientFactory) -> None:
    client = make_client()
    response = await client.register("alice", PASSWORD, device_name="nio register")
    assert isinstance(response, nio.RegisterResponse), response
    assert response.user_id == "@alice:localhost"
    assert client.access_token == response.access_token
    whoami = await client.whoami()
    assert isinstance(whoami, nio.WhoamiResponse), whoami
    assert (whoami.user_id, whoami.device_id) == ("@alice:localhost", response.device_id)


async def test_register_taken_name_is_an_error(make_client: ClientFactory) -> None:
    await _registered(make_client)
    again = await make_client().register("alice", PASSWORD)
    assert isinstance(again, RegisterErrorResponse), again
    assert again.status_code == "M_USER_IN_USE"


async def test_login_with_password_and_whoami(make_client: ClientFactory) -> None:
    await _registered(make_client)
    client = make_client("alice")
    response = await client.login(PASSWORD, device_name="laptop")
    assert isinstance(response, nio.LoginResponse), response
    assert response.user_id == "@alice:localhost"
    whoami = await client.whoami()
    assert isinstance(whoami, nio.WhoamiResponse), whoami
    assert whoami.user_id == "@alice:localhost"
    assert whoami.device_id == response.device_id
    assert whoami.is_guest is False


async def test_login_with_wrong_password_fails(make_client: ClientFactory) -> None:
    await _registered(make_client)
    response = await make_client("alice").login("not the password")
    assert isinstance(response, nio.LoginError), response
    assert response.status_code == "M_FORBIDDEN"


async def test_display_name_round_trip(make_client: ClientFactory) -> None:
    client = await _registered(make_client)
    initial = await client.get_displayname()
    assert isinstance(initial, nio.ProfileGetDisplayNameResponse), initial
    assert initial.displayname == "alice"  # registration sets the localpart
    assert isinstance(await client.set_displayname("Alice Ä"), nio.ProfileSetDisplayNameResponse)
    after = await client.get_displayname()
    assert isinstance(after, nio.ProfileGetDisplayNameResponse), after
    assert after.displayname == "Alice Ä"
    # Profiles are public: another user reads the same name.
    bob = await _registered(make_client, "bob")
    seen = await bob.get_displayname("@alice:localhost")
    assert isinstance(seen, nio.ProfileGetDisplayNameResponse), seen
    assert seen.displayname == "Alice Ä"


async def test_avatar_url_round_trip(make_client: ClientFactory) -> None:
    client = await _registered(make_client)
    response = await client.set_avatar("mxc://localhost/avatar123")
    assert isinstance(response, nio.ProfileSetAvatarResponse), response
    avatar = await client.get_avatar()
    assert isinstance(avatar, nio.ProfileGetAvatarResponse), avatar
    assert avatar.avatar_url == "mxc://localhost/avatar123"
    profile = await client.get_profile()
    assert isinstance(profile, nio.ProfileGetResponse), profile
    assert (profile.displayname, profile.avatar_url) == ("alice", "mxc://localhost/avatar123")


async def test_avatar_url_must_be_mxc(make_client: ClientFactory) -> None:
    client = await _registered(make_client)
    response = await client.set_avatar("https://example.org/a.png")
    assert isinstance(response, nio.ProfileSetAvatarError), response
    assert response.status_code == "M_INVALID_PARAM"


async def test_list_and_rename_devices(make_client: ClientFactory) -> None:
    first = await _registered(make_client)
    second = await _logged_in(make_client, "alice", "phone")
    listed = await first.devices()
    assert isinstance(listed, nio.DevicesResponse), listed
    names = {device.id: device.display_name for device in listed.devices}
    assert names == {first.device_id: "nio register", second.device_id: "phone"}

    renamed = await first.update_device(second.device_id, {"display_name": "old phone"})
    assert isinstance(renamed, nio.UpdateDeviceResponse), renamed
    listed = await second.devices()
    assert isinstance(listed, nio.DevicesResponse), listed
    assert {d.id: d.display_name for d in listed.devices}[second.device_id] == "old phone"


async def test_rename_unknown_device_is_an_error(make_client: ClientFactory) -> None:
    client = await _registered(make_client)
    response = await client.update_device("NOSUCHDEVICE", {"display_name": "x"})
    assert isinstance(response, nio.UpdateDeviceError), response
    assert response.status_code == "M_NOT_FOUND"


async def test_delete_device_with_user_interactive_auth(make_client: ClientFactory) -> None:
    first = await _registered(make_client)
    doomed = await _logged_in(make_client, "alice", "to delete")
    doomed_id = doomed.device_id

    challenge = await first.delete_devices([doomed_id])
    assert isinstance(challenge, nio.DeleteDevicesAuthResponse), challenge
    assert {"stages": ["m.login.password"]} in challenge.flows

    wrong = await first.delete_devices(
        [doomed_id], auth=_password_auth("wrong password", challenge.session)
    )
    assert isinstance(wrong, nio.DeleteDevicesAuthResponse), wrong  # still a 401 challenge
    still_there = await doomed.whoami()
    assert isinstance(still_there, nio.WhoamiResponse), still_there

    done = await first.delete_devices([doomed_id], auth=_password_auth(PASSWORD, challenge.session))
    assert isinstance(done, nio.DeleteDevicesResponse), done

    listed = await first.devices()
    assert isinstance(listed, nio.DevicesResponse), listed
    assert [d.id for d in listed.devices] == [first.device_id]
    gone = await doomed.whoami()
    assert isinstance(gone, nio.WhoamiError), gone
    assert gone.status_code == "M_UNKNOWN_TOKEN"


def _password_auth(password: str, session: str) -> dict[str, object]:
    return {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": password,
        "session": session,
    }


async def test_account_data_read_through_nio(
    server: LiveServer, make_client: ClientFactory
) -> None:
    # nio reads account data only as `m.direct` (`list_direct_rooms`); it has no setter,
    # so the write goes over raw HTTP.
    client = await _registered(make_client)
    missing = await client.list_direct_rooms()
    assert isinstance(missing, nio.DirectRoomsErrorResponse), missing
    assert missing.status_code == "M_NOT_FOUND"

    direct = {"@bob:localhost": ["!room1:localhost", "!room2:localhost"]}
    url = f"{server.url}/_matrix/client/v3/user/@alice:localhost/account_data/m.direct"
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with aiohttp.ClientSession() as http, http.put(url, json=direct, headers=headers) as r:
        assert r.status == 200, await r.text()

    found = await client.list_direct_rooms()
    assert isinstance(found, nio.DirectRoomsResponse), found
    assert found.rooms == direct


async def test_logout_invalidates_the_token(make_client: ClientFactory) -> None:
    registered = await _registered(make_client)
    client = await _logged_in(make_client, "alice", "leaving")
    token = client.access_token
    response = await client.logout()
    assert isinstance(response, nio.LogoutResponse), response

    stale = make_client("alice")
    stale.restore_login("@alice:localhost", "LEFT", token)
    whoami = await stale.whoami()
    assert isinstance(whoami, nio.WhoamiError), whoami
    assert whoami.status_code == "M_UNKNOWN_TOKEN"
    # Logging out one device leaves the others alone.
    assert isinstance(await registered.whoami(), nio.WhoamiResponse)
    listed = await registered.devices()
    assert isinstance(listed, nio.DevicesResponse), listed
    assert [d.id for d in listed.devices] == [registered.device_id]


async def test_logout_all_devices(make_client: ClientFactory) -> None:
    first = await _registered(make_client)
    second = await _logged_in(make_client, "alice", "other")
    response = await second.logout(all_devices=True)
    assert isinstance(response, nio.LogoutResponse), response
    whoami = await first.whoami()
    assert isinstance(whoami, nio.WhoamiError), whoami
    assert whoami.status_code == "M_UNKNOWN_TOKEN"

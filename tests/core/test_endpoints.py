"""The shared endpoint table: records, path filling and percent-encoding."""

from __future__ import annotations

import pytest

from core.endpoints import ENDPOINTS, Endpoint, endpoint


def test_send_message_path_encodes_every_parameter() -> None:
    send = endpoint("send_message")
    assert (send.method, send.requires_auth) == ("PUT", True)
    assert send.params == ("roomId", "eventType", "txnId")
    path = send.path(roomId="!room:example.org", eventType="m.room.message", txnId="t/1?#")
    assert path == "/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/t%2F1%3F%23"


def test_state_key_may_be_empty_or_contain_slashes() -> None:
    state = endpoint("send_state")
    assert state.path(roomId="!r:h", eventType="m.room.name", stateKey="") == (
        "/_matrix/client/v3/rooms/%21r%3Ah/state/m.room.name/"
    )
    assert state.path(roomId="!r:h", eventType="x", stateKey="@u:h/a b").endswith(
        "/state/x/%40u%3Ah%2Fa%20b"
    )


def test_unicode_is_utf8_percent_encoded() -> None:
    path = endpoint("get_alias").path(roomAlias="#café:h")
    assert path == "/_matrix/client/v3/directory/room/%23caf%C3%A9%3Ah"


def test_missing_and_unexpected_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="missing parameters \\['txnId'\\]"):
        endpoint("send_message").path(roomId="!r:h", eventType="m.room.message")
    with pytest.raises(ValueError, match="unexpected parameters \\['extra'\\]"):
        endpoint("whoami").path(extra="x")
    with pytest.raises(KeyError):
        endpoint("no_such_endpoint")


def test_records_are_frozen_and_validated() -> None:
    whoami = endpoint("whoami")
    with pytest.raises(AttributeError):
        whoami.method = "POST"  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown method"):
        Endpoint("x", "PATCH", "/x")
    with pytest.raises(ValueError, match="start with '/'"):
        Endpoint("x", "GET", "x")
    with pytest.raises(ValueError, match="repeated parameter"):
        Endpoint("x", "GET", "/{a}/{a}")


def test_names_and_routes_are_unique() -> None:
    routes = {(e.method, e.template) for e in ENDPOINTS.values()}
    assert len(routes) == len(ENDPOINTS)
    assert all(name == e.name for name, e in ENDPOINTS.items())


def test_unauthenticated_endpoints_are_exactly_the_public_ones() -> None:
    public = {name for name, e in ENDPOINTS.items() if not e.requires_auth}
    assert public == {
        "versions", "well_known", "register", "register_available",
        "registration_token_validity", "login_flows", "login", "refresh",
        "get_profile", "get_profile_field", "get_alias", "get_room_visibility", "public_rooms",
        "download_legacy", "download_named_legacy", "thumbnail_legacy",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "method", "path"),
    [
        ("keys_upload", "POST", "/_matrix/client/v3/keys/upload"),
        ("keys_query", "POST", "/_matrix/client/v3/keys/query"),
        ("keys_claim", "POST", "/_matrix/client/v3/keys/claim"),
        ("keys_changes", "GET", "/_matrix/client/v3/keys/changes"),
        ("keys_device_signing_upload", "POST", "/_matrix/client/v3/keys/device_signing/upload"),
        ("keys_signatures_upload", "POST", "/_matrix/client/v3/keys/signatures/upload"),
        ("room_keys_version_create", "POST", "/_matrix/client/v3/room_keys/version"),
        ("room_keys_version_current", "GET", "/_matrix/client/v3/room_keys/version"),
        ("room_keys_get", "GET", "/_matrix/client/v3/room_keys/keys"),
    ],
)
def test_e2ee_endpoints(name: str, method: str, path: str) -> None:
    item = endpoint(name)
    assert (item.method, item.path(), item.requires_auth) == (method, path, True)


def test_e2ee_parameterised_endpoints() -> None:
    assert endpoint("send_to_device").path(eventType="m.room_key", txnId="1") == (
        "/_matrix/client/v3/sendToDevice/m.room_key/1"
    )
    assert endpoint("room_keys_session_put").path(roomId="!r:h", sessionId="a+b/c") == (
        "/_matrix/client/v3/room_keys/keys/%21r%3Ah/a%2Bb%2Fc"
    )
    assert endpoint("room_keys_version_delete").path(version="7").endswith("/version/7")


def test_placeholder_patterns_and_variants() -> None:
    state = endpoint("get_state_event")
    assert state.params == ("roomId", "eventType", "stateKey")
    assert state.path(roomId="!r:h", eventType="t", stateKey="a/b").endswith("/state/t/a%2Fb")
    assert state.variants == ("/_matrix/client/v3/rooms/{roomId}/state/{eventType}",)
    with pytest.raises(ValueError, match="unknown parameters"):
        Endpoint("x", "GET", "/{a}", variants=("/{b}",))


def test_admin_endpoints_require_auth() -> None:
    admin = [e for name, e in ENDPOINTS.items() if name.startswith("admin_")]
    assert {"admin_purge_media", "admin_moderation_events", "admin_add_ip_block"} <= {
        e.name for e in admin
    }
    assert all(e.requires_auth and e.template.startswith("/_tessera/admin/v1/") for e in admin)

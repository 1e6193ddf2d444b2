"""The Client-Server API endpoint table shared by the homeserver and the SDK.

Each `Endpoint` is a frozen record: a unique name, the HTTP method, the path template with the
spec's own parameter names (`/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`) and
whether an access token is required. `Endpoint.path(**params)` fills the template, percent-encoding
every value (`/`, `#`, `:` and `!` included), so a room ID or state key can never escape its
segment.

The homeserver builds its routes from this table (`homeserver.api.routing`), so templates use
the router's syntax: a placeholder is one non-empty path segment unless it carries its own
pattern after a colon (`{stateKey:.*}` also matches an empty key). `variants` lists the other
spellings the server accepts for the same endpoint (a trailing slash dropped, an empty last
parameter left out); clients always send `template`.

Invariants: names are unique (`ENDPOINTS` is keyed by them); a template's parameters appear once
each and a variant's are a subset of them; `path` refuses missing or unexpected parameters. The
table lists every endpoint the homeserver serves: the Client-Server API with its end-to-end
encryption module (keys, to-device, key backup), and Tessera's admin API (`/_tessera/admin/v1`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

__all__ = ["ENDPOINTS", "Endpoint", "endpoint"]

_PARAM: Final = re.compile(r"\{([A-Za-z]+)(?::[^{}]+)?\}")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One HTTP endpoint of the Client-Server API.

    Attributes:
        name: A unique snake_case name, e.g. `send_message`.
        method: `GET`, `POST`, `PUT` or `DELETE`.
        template: The path with `{param}` placeholders named as in the spec (optionally
            `{param:regex}` where the value may be empty or span segments).
        requires_auth: Whether the request must carry an access token.
        variants: Other templates the server serves for this endpoint (never sent by clients).
        params: The placeholder names in order (derived from `template`).
    """

    name: str
    method: str
    template: str
    requires_auth: bool = True
    variants: tuple[str, ...] = ()
    params: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"unknown method {self.method!r} for {self.name}")
        if not self.template.startswith("/"):
            raise ValueError(f"template of {self.name} must start with '/'")
        names = tuple(_PARAM.findall(self.template))
        if len(set(names)) != len(names):
            raise ValueError(f"repeated parameter in the template of {self.name}")
        for variant in self.variants:
            if not variant.startswith("/") or not set(_PARAM.findall(variant)) <= set(names):
                raise ValueError(f"variant {variant!r} of {self.name} has unknown parameters")
        object.__setattr__(self, "params", names)

    def path(self, **params: str) -> str:
        """The request path with each parameter percent-encoded into its segment.

        Args:
            **params: One string per placeholder, by its spec name (`roomId="!a:b"`).
                Empty strings are allowed (an empty state key).

        Raises:
            ValueError: A placeholder has no value, or a value names no placeholder.
        """
        missing = [name for name in self.params if name not in params]
        unexpected = sorted(set(params) - set(self.params))
        if missing or unexpected:
            raise ValueError(
                f"{self.name}: missing parameters {missing}, unexpected parameters {unexpected}"
            )
        return _PARAM.sub(lambda m: quote(params[m.group(1)], safe=""), self.template)


_C3 = "/_matrix/client/v3"
_C1 = "/_matrix/client/v1"
_M3 = "/_matrix/media/v3"
_ROOM = _C3 + "/rooms/{roomId}"
_RULE = _C3 + "/pushrules/{scope}/{kind}/{ruleId}"


_A1 = "/_tessera/admin/v1"
_MEDIA_ITEM = _A1 + "/media/{serverName}/{mediaId}"


def _e(
    name: str, method: str, template: str, *, auth: bool = True, also: tuple[str, ...] = ()
) -> Endpoint:
    return Endpoint(name, method, template, auth, also)


_TABLE: Final[tuple[Endpoint, ...]] = (
    # Discovery and capabilities
    _e("versions", "GET", "/_matrix/client/versions", auth=False),
    _e("well_known", "GET", "/.well-known/matrix/client", auth=False),
    _e("capabilities", "GET", _C3 + "/capabilities"),
    # Registration and sessions
    _e("register", "POST", _C3 + "/register", auth=False),
    _e("register_available", "GET", _C3 + "/register/available", auth=False),
    _e(
        "registration_token_validity",
        "GET",
        _C1 + "/register/m.login.registration_token/validity",
        auth=False,
    ),
    _e("login_flows", "GET", _C3 + "/login", auth=False),
    _e("login", "POST", _C3 + "/login", auth=False),
    _e("logout", "POST", _C3 + "/logout"),
    _e("logout_all", "POST", _C3 + "/logout/all"),
    _e("refresh", "POST", _C3 + "/refresh", auth=False),
    # Account
    _e("whoami", "GET", _C3 + "/account/whoami"),
    _e("change_password", "POST", _C3 + "/account/password"),
    _e("deactivate", "POST", _C3 + "/account/deactivate"),
    _e("openid_request_token", "POST", _C3 + "/user/{userId}/openid/request_token"),
    _e("get_account_data", "GET", _C3 + "/user/{userId}/account_data/{type}"),
    _e("set_account_data", "PUT", _C3 + "/user/{userId}/account_data/{type}"),
    _e("get_room_account_data", "GET", _C3 + "/user/{userId}/rooms/{roomId}/account_data/{type}"),
    _e("set_room_account_data", "PUT", _C3 + "/user/{userId}/rooms/{roomId}/account_data/{type}"),
    _e("get_devices", "GET", _C3 + "/devices"),
    _e("get_device", "GET", _C3 + "/devices/{deviceId}"),
    _e("update_device", "PUT", _C3 + "/devices/{deviceId}"),
    _e("delete_device", "DELETE", _C3 + "/devices/{deviceId}"),
    _e("delete_devices", "POST", _C3 + "/delete_devices"),
    # Profile and presence
    _e("get_profile", "GET", _C3 + "/profile/{userId}", auth=False),
    _e("get_profile_field", "GET", _C3 + "/profile/{userId}/{keyName}", auth=False),
    _e("set_profile_field", "PUT", _C3 + "/profile/{userId}/{keyName}"),
    _e("get_presence", "GET", _C3 + "/presence/{userId}/status"),
    _e("set_presence", "PUT", _C3 + "/presence/{userId}/status"),
    # Sync and filters
    _e("sync", "GET", _C3 + "/sync"),
    _e("create_filter", "POST", _C3 + "/user/{userId}/filter"),
    _e("get_filter", "GET", _C3 + "/user/{userId}/filter/{filterId}"),
    # Rooms and membership
    _e("create_room", "POST", _C3 + "/createRoom"),
    _e("join", "POST", _C3 + "/join/{roomIdOrAlias}"),
    _e("join_room_id", "POST", _ROOM + "/join"),
    _e("knock", "POST", _C3 + "/knock/{roomIdOrAlias}"),
    _e("invite", "POST", _ROOM + "/invite"),
    _e("kick", "POST", _ROOM + "/kick"),
    _e("ban", "POST", _ROOM + "/ban"),
    _e("unban", "POST", _ROOM + "/unban"),
    _e("leave", "POST", _ROOM + "/leave"),
    _e("forget", "POST", _ROOM + "/forget"),
    _e("joined_rooms", "GET", _C3 + "/joined_rooms"),
    # Sending and reading room events
    _e("send_message", "PUT", _ROOM + "/send/{eventType}/{txnId}"),
    _e(
        "send_state",
        "PUT",
        _ROOM + "/state/{eventType}/{stateKey:.*}",
        also=(_ROOM + "/state/{eventType}",),
    ),
    _e("redact", "PUT", _ROOM + "/redact/{eventId}/{txnId}"),
    _e("get_event", "GET", _ROOM + "/event/{eventId}"),
    _e("get_state", "GET", _ROOM + "/state"),
    _e(
        "get_state_event",
        "GET",
        _ROOM + "/state/{eventType}/{stateKey:.*}",
        also=(_ROOM + "/state/{eventType}",),
    ),
    _e("get_members", "GET", _ROOM + "/members"),
    _e("get_joined_members", "GET", _ROOM + "/joined_members"),
    _e("messages", "GET", _ROOM + "/messages"),
    _e("context", "GET", _ROOM + "/context/{eventId}"),
    _e("timestamp_to_event", "GET", _C1 + "/rooms/{roomId}/timestamp_to_event"),
    # Typing, receipts, read markers
    _e("typing", "PUT", _ROOM + "/typing/{userId}"),
    _e("receipt", "POST", _ROOM + "/receipt/{receiptType}/{eventId}"),
    _e("read_markers", "POST", _ROOM + "/read_markers"),
    # Room directory and user directory
    _e("get_alias", "GET", _C3 + "/directory/room/{roomAlias}", auth=False),
    _e("set_alias", "PUT", _C3 + "/directory/room/{roomAlias}"),
    _e("delete_alias", "DELETE", _C3 + "/directory/room/{roomAlias}"),
    _e("room_aliases", "GET", _ROOM + "/aliases"),
    _e("get_room_visibility", "GET", _C3 + "/directory/list/room/{roomId}", auth=False),
    _e("set_room_visibility", "PUT", _C3 + "/directory/list/room/{roomId}"),
    _e("public_rooms", "GET", _C3 + "/publicRooms", auth=False),
    _e("public_rooms_filtered", "POST", _C3 + "/publicRooms"),
    _e("user_directory_search", "POST", _C3 + "/user_directory/search"),
    # Server-side search
    _e("search", "POST", _C3 + "/search"),
    # Message retention (MSC1763): the server's policy
    _e(
        "retention_configuration",
        "GET",
        "/_matrix/client/unstable/org.matrix.msc1763/retention/configuration",
    ),
    # Push rules
    _e("get_push_rules", "GET", _C3 + "/pushrules/", also=(_C3 + "/pushrules",)),
    _e(
        "get_push_rules_scope",
        "GET",
        _C3 + "/pushrules/{scope}/",
        also=(_C3 + "/pushrules/{scope}",),
    ),
    _e("get_push_rules_kind", "GET", _C3 + "/pushrules/{scope}/{kind}/"),
    _e("get_push_rule", "GET", _RULE),
    _e("set_push_rule", "PUT", _RULE),
    _e("delete_push_rule", "DELETE", _RULE),
    _e("get_push_rule_enabled", "GET", _RULE + "/enabled"),
    _e("set_push_rule_enabled", "PUT", _RULE + "/enabled"),
    _e("get_push_rule_actions", "GET", _RULE + "/actions"),
    _e("set_push_rule_actions", "PUT", _RULE + "/actions"),
    # Content repository
    _e("upload", "POST", _M3 + "/upload"),
    _e("create_media", "POST", "/_matrix/media/v1/create"),
    _e("upload_to", "PUT", _M3 + "/upload/{serverName}/{mediaId}"),
    _e("media_config", "GET", _C1 + "/media/config"),
    _e("media_config_legacy", "GET", _M3 + "/config"),
    _e("preview_url", "GET", _C1 + "/media/preview_url"),
    _e("preview_url_legacy", "GET", _M3 + "/preview_url"),
    _e("download", "GET", _C1 + "/media/download/{serverName}/{mediaId}"),
    _e("download_named", "GET", _C1 + "/media/download/{serverName}/{mediaId}/{fileName:[^/]*}"),
    _e("thumbnail", "GET", _C1 + "/media/thumbnail/{serverName}/{mediaId}"),
    _e("download_legacy", "GET", _M3 + "/download/{serverName}/{mediaId}", auth=False),
    _e(
        "download_named_legacy",
        "GET",
        _M3 + "/download/{serverName}/{mediaId}/{fileName:[^/]*}",
        auth=False,
    ),
    _e("thumbnail_legacy", "GET", _M3 + "/thumbnail/{serverName}/{mediaId}", auth=False),
    # End-to-end encryption: device keys, one-time keys, cross-signing
    _e("keys_upload", "POST", _C3 + "/keys/upload"),
    _e("keys_query", "POST", _C3 + "/keys/query"),
    _e("keys_claim", "POST", _C3 + "/keys/claim"),
    _e("keys_changes", "GET", _C3 + "/keys/changes"),
    _e("keys_device_signing_upload", "POST", _C3 + "/keys/device_signing/upload"),
    _e("keys_signatures_upload", "POST", _C3 + "/keys/signatures/upload"),
    # Send-to-device messaging
    _e("send_to_device", "PUT", _C3 + "/sendToDevice/{eventType}/{txnId}"),
    # Server-side key backup
    _e("room_keys_version_create", "POST", _C3 + "/room_keys/version"),
    _e("room_keys_version_current", "GET", _C3 + "/room_keys/version"),
    _e("room_keys_version_get", "GET", _C3 + "/room_keys/version/{version}"),
    _e("room_keys_version_update", "PUT", _C3 + "/room_keys/version/{version}"),
    _e("room_keys_version_delete", "DELETE", _C3 + "/room_keys/version/{version}"),
    _e("room_keys_get", "GET", _C3 + "/room_keys/keys"),
    _e("room_keys_put", "PUT", _C3 + "/room_keys/keys"),
    _e("room_keys_delete", "DELETE", _C3 + "/room_keys/keys"),
    _e("room_keys_room_get", "GET", _C3 + "/room_keys/keys/{roomId}"),
    _e("room_keys_room_put", "PUT", _C3 + "/room_keys/keys/{roomId}"),
    _e("room_keys_room_delete", "DELETE", _C3 + "/room_keys/keys/{roomId}"),
    _e("room_keys_session_get", "GET", _C3 + "/room_keys/keys/{roomId}/{sessionId}"),
    _e("room_keys_session_put", "PUT", _C3 + "/room_keys/keys/{roomId}/{sessionId}"),
    _e("room_keys_session_delete", "DELETE", _C3 + "/room_keys/keys/{roomId}/{sessionId}"),
    # Tessera administration (server admins only)
    _e("admin_quarantine_media", "POST", _MEDIA_ITEM + "/quarantine"),
    _e("admin_release_media", "DELETE", _MEDIA_ITEM + "/quarantine"),
    _e("admin_delete_media", "DELETE", _MEDIA_ITEM),
    _e("admin_delete_user_media", "DELETE", _A1 + "/users/{userId}/media"),
    _e("admin_purge_media", "POST", _A1 + "/media/purge"),
    _e("admin_purge_room_history", "POST", _A1 + "/rooms/{roomId}/purge_history"),
    _e("admin_delete_room", "DELETE", _A1 + "/rooms/{roomId}"),
    _e("admin_rooms_by_expiry", "GET", _A1 + "/retention/rooms"),
    _e("admin_retention_stats", "GET", _A1 + "/retention/stats"),
    _e("admin_moderation_events", "GET", _A1 + "/moderation/events"),
    _e("admin_moderation_ip", "GET", _A1 + "/moderation/ips/{ip}"),
    _e("admin_moderation_user", "GET", _A1 + "/moderation/users/{userId}"),
    _e("admin_ip_blocks", "GET", _A1 + "/moderation/ip_blocks"),
    _e("admin_add_ip_block", "POST", _A1 + "/moderation/ip_blocks"),
    _e("admin_remove_ip_block", "DELETE", _A1 + "/moderation/ip_blocks"),
)


def _index(table: tuple[Endpoint, ...]) -> Mapping[str, Endpoint]:
    by_name: dict[str, Endpoint] = {}
    routes: set[tuple[str, str]] = set()
    for item in table:
        if item.name in by_name:
            raise ValueError(f"duplicate endpoint name {item.name}")
        route = (item.method, _PARAM.sub("{}", item.template))
        if route in routes:
            raise ValueError(f"duplicate route {route}")
        routes.add(route)
        by_name[item.name] = item
    return MappingProxyType(by_name)


ENDPOINTS: Final[Mapping[str, Endpoint]] = _index(_TABLE)
"""Every endpoint by name (read-only)."""


def endpoint(name: str) -> Endpoint:
    """The endpoint called `name`.

    Raises:
        KeyError: No endpoint has that name.
    """
    return ENDPOINTS[name]

"""The Server-Server API endpoint table: what the homeserver serves to other servers.

The same `Endpoint` records as the client table (`core.endpoints`), in a table of their own
because they are served on the federation listener and authenticated differently: an
endpoint with `requires_auth` needs a valid X-Matrix signature of the requesting server,
not an access token. The homeserver builds its federation routes from this table
(`homeserver.api.routing` with the X-Matrix authenticator), and the federation library and
tests fill paths with `Endpoint.path`.

Invariants: names are unique and distinct from the client table's; every template is under
`/_matrix/federation/`, `/_matrix/key/` or is the `.well-known` delegation file.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from core.endpoints import Endpoint

__all__ = ["FEDERATION_ENDPOINTS", "FEDERATION_PREFIXES", "federation_endpoint"]

_F1 = "/_matrix/federation/v1"
_F2 = "/_matrix/federation/v2"
_K2 = "/_matrix/key/v2"

FEDERATION_PREFIXES: Final = ("/_matrix/federation/", "/_matrix/key/", "/.well-known/matrix/server")
"""Path prefixes the federation listener serves (anything else is 404 there)."""

_TABLE: Final[tuple[Endpoint, ...]] = (
    # Discovery
    Endpoint("federation_well_known", "GET", "/.well-known/matrix/server", requires_auth=False),
    Endpoint("federation_version", "GET", _F1 + "/version", requires_auth=False),
    # Server keys and the notary
    Endpoint("key_server", "GET", _K2 + "/server", requires_auth=False),
    Endpoint("key_query", "GET", _K2 + "/query/{serverName}", requires_auth=False),
    Endpoint("key_query_batch", "POST", _K2 + "/query", requires_auth=False),
    # Transactions
    Endpoint("federation_send", "PUT", _F1 + "/send/{txnId}"),
    # Joining, leaving, inviting and knocking
    Endpoint("make_join", "GET", _F1 + "/make_join/{roomId}/{userId}"),
    Endpoint("send_join", "PUT", _F2 + "/send_join/{roomId}/{eventId}"),
    Endpoint("make_leave", "GET", _F1 + "/make_leave/{roomId}/{userId}"),
    Endpoint("send_leave", "PUT", _F2 + "/send_leave/{roomId}/{eventId}"),
    Endpoint("invite", "PUT", _F2 + "/invite/{roomId}/{eventId}"),
    Endpoint("make_knock", "GET", _F1 + "/make_knock/{roomId}/{userId}"),
    Endpoint("send_knock", "PUT", _F1 + "/send_knock/{roomId}/{eventId}"),
    # Retrieving events and state
    Endpoint("get_event", "GET", _F1 + "/event/{eventId}"),
    Endpoint("room_state", "GET", _F1 + "/state/{roomId}"),
    Endpoint("room_state_ids", "GET", _F1 + "/state_ids/{roomId}"),
    Endpoint("event_auth", "GET", _F1 + "/event_auth/{roomId}/{eventId}"),
    Endpoint("backfill", "GET", _F1 + "/backfill/{roomId}"),
    Endpoint("get_missing_events", "POST", _F1 + "/get_missing_events/{roomId}"),
    Endpoint("federation_timestamp_to_event", "GET", _F1 + "/timestamp_to_event/{roomId}"),
    # Queries
    Endpoint("query_profile", "GET", _F1 + "/query/profile"),
    Endpoint("query_directory", "GET", _F1 + "/query/directory"),
    # The published room directory, and OpenID tokens (asked by third parties: no signature)
    Endpoint("federation_public_rooms", "GET", _F1 + "/publicRooms"),
    Endpoint("federation_public_rooms_filtered", "POST", _F1 + "/publicRooms"),
    Endpoint("openid_userinfo", "GET", _F1 + "/openid/userinfo", requires_auth=False),
    # Content repository (our own media only)
    Endpoint("federation_media_download", "GET", _F1 + "/media/download/{mediaId}"),
    Endpoint("federation_media_thumbnail", "GET", _F1 + "/media/thumbnail/{mediaId}"),
    # End-to-end encryption: device lists and keys of the server's users
    Endpoint("user_devices", "GET", _F1 + "/user/devices/{userId}"),
    Endpoint("user_keys_query", "POST", _F1 + "/user/keys/query"),
    Endpoint("user_keys_claim", "POST", _F1 + "/user/keys/claim"),
)


def _index(table: tuple[Endpoint, ...]) -> Mapping[str, Endpoint]:
    by_name: dict[str, Endpoint] = {}
    for item in table:
        if item.name in by_name:
            raise ValueError(f"duplicate endpoint name {item.name}")
        if not item.template.startswith(FEDERATION_PREFIXES):
            raise ValueError(f"{item.name} is outside the federation prefixes")
        by_name[item.name] = item
    return MappingProxyType(by_name)


FEDERATION_ENDPOINTS: Final[Mapping[str, Endpoint]] = _index(_TABLE)
"""Every federation endpoint by name (read-only)."""


def federation_endpoint(name: str) -> Endpoint:
    """The federation endpoint called `name`.

    Raises:
        KeyError: No federation endpoint has that name.
    """
    return FEDERATION_ENDPOINTS[name]

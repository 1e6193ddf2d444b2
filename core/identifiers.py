"""Matrix identifiers (spec appendix "Identifier Grammar") as validated `NewType`s.

Only the `parse_*` functions make these types, so a `UserId` in a signature is a checked one.
Each raises `ValueError` with a reason; callers at the HTTP edge turn that into the errcode
their endpoint prescribes.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NewType

from core.text import is_unicode_text

UserId = NewType("UserId", str)
RoomId = NewType("RoomId", str)
RoomAlias = NewType("RoomAlias", str)
EventId = NewType("EventId", str)
ServerName = NewType("ServerName", str)
DeviceId = NewType("DeviceId", str)

MAX_ID_BYTES = 255

_DNS_NAME = re.compile(r"^[A-Za-z0-9\-.]{1,255}$")
_PORT = re.compile(r"^[0-9]{1,5}$")
# Localparts the spec lets servers create: lowercase, digits and ._=-/+
_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+$")
# Historical user IDs may use any printable ASCII other than ':' (spec: "Historical User IDs").
_HISTORICAL_LOCALPART = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
_OPAQUE = re.compile(r"^[\x21-\x7e]+$")
# A room ID without a domain (room version 12+): `!` and the URL-safe unpadded base64 of the
# create event's reference hash, i.e. the create event's ID with `!` for `$`.
_HASHED_ROOM_ID = re.compile(r"^![A-Za-z0-9_-]{43}$")


def parse_server_name(value: str) -> ServerName:
    """Validate `host[:port]` where host is an IPv4 literal, `[IPv6]` literal or DNS name."""
    host, port = _split_host_port(value)
    if port is not None and (not _PORT.match(port) or not 0 < int(port) < 65536):
        raise ValueError("invalid port in server name")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError("unterminated IPv6 literal")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise ValueError("invalid IPv6 literal") from exc
    elif not _DNS_NAME.match(host):
        raise ValueError("invalid host in server name")
    return ServerName(value)


def _split_host_port(value: str) -> tuple[str, str | None]:
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            raise ValueError("unterminated IPv6 literal")
        rest = value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("junk after IPv6 literal")
        return value[: end + 1], (rest[1:] if rest else None)
    host, sep, port = value.partition(":")
    return host, (port if sep else None)


def _split_sigil(value: str, sigil: str) -> tuple[str, ServerName]:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ValueError("identifier longer than 255 bytes")
    if not value.startswith(sigil):
        raise ValueError(f"identifier must start with {sigil!r}")
    local, sep, server = value[1:].partition(":")
    if not sep or not local:
        raise ValueError("identifier must be sigil, localpart, ':' and server name")
    return local, parse_server_name(server)


def parse_user_id(value: str, *, historical: bool = True) -> UserId:
    """Validate a user ID. `historical=False` applies the strict grammar for new users."""
    local, _ = _split_sigil(value, "@")
    pattern = _HISTORICAL_LOCALPART if historical else _LOCALPART
    if not pattern.match(local):
        raise ValueError("invalid characters in user localpart")
    return UserId(value)


def parse_localpart(value: str) -> str:
    """Validate a localpart for a new account (strict grammar)."""
    if not value or not _LOCALPART.match(value):
        raise ValueError("localpart may only contain a-z, 0-9, '.', '_', '=', '-', '/' and '+'")
    return value


def make_user_id(localpart: str, server_name: ServerName) -> UserId:
    """Build and validate `@localpart:server_name` for a new account."""
    return parse_user_id(f"@{parse_localpart(localpart)}:{server_name}", historical=False)


def parse_room_id(value: str) -> RoomId:
    """Validate a room ID: `!opaque:server`, or `!` and a create event's hash (room version 12+).

    The spec ("Room IDs") lets room versions omit the domain: the room ID is then the create
    event's ID with the `!` sigil, 43 URL-safe unpadded base64 characters.
    """
    if ":" not in value and _HASHED_ROOM_ID.match(value):
        return RoomId(value)
    local, _ = _split_sigil(value, "!")
    if not _OPAQUE.match(local):
        raise ValueError("invalid characters in room ID")
    return RoomId(value)


def parse_room_alias(value: str) -> RoomAlias:
    """Validate a room alias `#alias:server`.

    The alias part may hold any Unicode code point except ':' and NUL (spec: "Room Aliases");
    lone surrogates are not code points of valid text and are refused too.
    """
    local, _ = _split_sigil(value, "#")
    if "\x00" in local or not is_unicode_text(local):
        raise ValueError("invalid characters in room alias")
    return RoomAlias(value)


def parse_event_id(value: str) -> EventId:
    """Validate an event ID: `$` then opaque characters (room versions 4 and later)."""
    if (
        len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES
        or not value.startswith("$")
        or len(value) < 2
    ):
        raise ValueError("invalid event ID")
    if not _OPAQUE.match(value[1:]):
        raise ValueError("invalid characters in event ID")
    return EventId(value)


def parse_device_id(value: str) -> DeviceId:
    """Validate a device ID: a non-empty printable string of at most 255 bytes."""
    if (
        not value
        or len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES
        or not value.isprintable()
    ):
        raise ValueError("invalid device ID")
    return DeviceId(value)


def is_hashed_room_id(room_id: str) -> bool:
    """Whether `room_id` is a domain-less room ID (room version 12+), which names no server."""
    return ":" not in room_id and bool(_HASHED_ROOM_ID.match(room_id))


def room_id_server(room_id: str) -> ServerName | None:
    """The domain of a classic `!opaque:server` room ID; None for a domain-less one (v12).

    Even when present the domain only says which server created the room, not who is in it.
    """
    if ":" not in room_id:
        return None
    return ServerName(room_id.partition(":")[2])


def server_name_of(identifier: str) -> ServerName:
    """The server part of a sigilled identifier (`@u:s`, `#a:s`, a classic `!r:s`).

    A v12 room ID has no server part: use `room_id_server` for room IDs.
    """
    return ServerName(identifier.partition(":")[2])


def localpart_of(identifier: str) -> str:
    """The localpart of a sigilled identifier, without the sigil."""
    return identifier[1:].partition(":")[0]

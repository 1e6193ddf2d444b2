"""Validation of identifiers that arrive in request paths and bodies, as Matrix errors.

One rule for every untrusted identifier: a value that is not a string, or that the validating
`core.identifiers.parse_*` refuses, is `M_INVALID_PARAM` naming what was wrong; what passes
comes back as its `NewType`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core.errors import M_INVALID_PARAM, M_NOT_FOUND, MatrixError
from core.identifiers import (
    DeviceId,
    EventId,
    RoomAlias,
    RoomId,
    UserId,
    parse_device_id,
    parse_event_id,
    parse_room_alias,
    parse_room_id,
    parse_user_id,
)

__all__ = [
    "checked",
    "checked_device_id",
    "checked_event_id",
    "checked_room_alias",
    "checked_room_id",
    "checked_user_id",
    "known_event_id",
]

_T = TypeVar("_T")


def checked(parse: Callable[[str], _T], value: object, what: str) -> _T:
    """`parse(value)`, or `M_INVALID_PARAM` ("Invalid {what}: …") when `value` is refused.

    Args:
        parse: A validating parser that raises `ValueError`.
        value: The untrusted value (anything that came out of JSON or a path).
        what: How the error names the value, e.g. `room ID`.
    """
    if not isinstance(value, str):
        raise MatrixError(M_INVALID_PARAM, f"Invalid {what}: must be a string")
    try:
        return parse(value)
    except ValueError as exc:
        raise MatrixError(M_INVALID_PARAM, f"Invalid {what}: {exc}") from exc


def checked_room_id(value: object) -> RoomId:
    """A well-formed room ID, or `M_INVALID_PARAM`."""
    return checked(parse_room_id, value, "room ID")


def checked_user_id(value: object) -> UserId:
    """A well-formed user ID (historical grammar allowed), or `M_INVALID_PARAM`."""
    return checked(parse_user_id, value, "user ID")


def checked_event_id(value: object) -> EventId:
    """A well-formed event ID, or `M_INVALID_PARAM`."""
    return checked(parse_event_id, value, "event ID")


def known_event_id(value: str) -> EventId:
    """An event ID a request path names to look an event up, or `M_NOT_FOUND`.

    Every stored event ID is well formed, so a malformed one names no event: it is refused
    as an unknown one would be.
    """
    try:
        return parse_event_id(value)
    except ValueError as exc:
        raise MatrixError(M_NOT_FOUND, "Event not found") from exc


def checked_device_id(value: object) -> DeviceId:
    """A well-formed device ID, or `M_INVALID_PARAM`."""
    return checked(parse_device_id, value, "device ID")


def checked_room_alias(value: object) -> RoomAlias:
    """A well-formed room alias, or `M_INVALID_PARAM`."""
    return checked(parse_room_alias, value, "room alias")

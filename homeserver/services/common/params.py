"""Validation of identifiers that arrive in request paths and bodies, as Matrix errors."""

from __future__ import annotations

from core.errors import M_INVALID_PARAM, MatrixError
from core.identifiers import RoomId, parse_room_id


def checked_room_id(value: str) -> RoomId:
    """A well-formed room ID, or `M_INVALID_PARAM`."""
    try:
        return parse_room_id(value)
    except ValueError as exc:
        raise MatrixError(M_INVALID_PARAM, "Invalid room ID") from exc

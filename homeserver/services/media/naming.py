"""Media IDs, content types and file names: what the content repository accepts.

Media IDs hold only `A-Za-z0-9_-` (the spec's security considerations: no path traversal
through an `mxc://` URI). A content type that is not a well-formed `type/subtype` becomes the
spec's default; a file name with control characters or over 1024 characters is refused in an
upload and dropped when another server sends it.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from core.errors import M_INVALID_PARAM, MatrixError

__all__ = [
    "checked_filename",
    "content_type_or_default",
    "filename_or_none",
    "new_media_id",
    "valid_media_id",
]

_MEDIA_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_CONTENT_TYPE: Final = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$")
_DEFAULT_TYPE: Final = "application/octet-stream"
_MAX_FILENAME: Final = 1024


def valid_media_id(media_id: str) -> bool:
    """Whether `media_id` has only the characters the spec allows (`A-Za-z0-9_-`)."""
    return _MEDIA_ID.match(media_id) is not None


def new_media_id() -> str:
    """A fresh media ID: 24 URL-safe characters (144 random bits)."""
    return secrets.token_urlsafe(18)


def content_type_or_default(value: str | None) -> str:
    """The Content-Type to store: the given one if well-formed, else the spec's default."""
    if value is None or len(value) > 255 or not _CONTENT_TYPE.match(value.strip()):
        return _DEFAULT_TYPE
    return value.strip()


def checked_filename(value: str | None) -> str | None:
    """An upload's file name (None for none).

    Raises:
        MatrixError: `M_INVALID_PARAM` for a name we do not store.
    """
    if value is None or value == "":
        return None
    if not _valid_filename(value):
        raise MatrixError(M_INVALID_PARAM, "Invalid filename")
    return value


def filename_or_none(value: str | None) -> str | None:
    """A file name another server sent, if it is one we would accept in an upload."""
    return value if value and _valid_filename(value) else None


def _valid_filename(value: str) -> bool:
    return len(value) <= _MAX_FILENAME and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)

"""The `/sync` stream token: one position per stream, serialised as `s{events}_{…}`.

Tokens are opaque to clients. A malformed token is `M_INVALID_PARAM`, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.errors import M_INVALID_PARAM, MatrixError


@dataclass(frozen=True, slots=True)
class StreamToken:
    """Positions in every stream `/sync` reports."""

    events: int = 0
    account_data: int = 0
    receipts: int = 0
    typing: int = 0
    presence: int = 0
    to_device: int = 0
    device_lists: int = 0
    unread: int = 0

    def serialize(self) -> str:
        """The opaque string handed to clients as `next_batch`."""
        return "s" + "_".join(str(getattr(self, f.name)) for f in fields(self))

    @classmethod
    def parse(cls, token: str) -> StreamToken:
        """Parse a token from `serialize`; older tokens with fewer parts are accepted.

        Raises:
            MatrixError: `M_INVALID_PARAM` if the token is malformed.
        """
        parts = token[1:].split("_") if token.startswith("s") else []
        names = [f.name for f in fields(cls)]
        if not parts or len(parts) > len(names) or not all(p.isdigit() for p in parts):
            raise MatrixError(M_INVALID_PARAM, "Invalid stream token")
        return cls(**{name: int(part) for name, part in zip(names, parts, strict=False)})

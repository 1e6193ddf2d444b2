"""Who is behind an authenticated request; every domain takes it, so it lives here."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import M_FORBIDDEN, MatrixError
from core.identifiers import DeviceId, UserId


@dataclass(frozen=True, slots=True)
class Requester:
    """The authenticated user and device behind a request, and the client IP it came from."""

    user_id: UserId
    device_id: DeviceId
    is_admin: bool
    access_token_hash: str
    client_ip: str | None = None  # None outside an HTTP request (or when unknown)


def require_admin(requester: Requester) -> None:
    """Refuse non-admins with `M_FORBIDDEN`."""
    if not requester.is_admin:
        raise MatrixError(M_FORBIDDEN, "You are not a server admin")

"""What the authorisation rule modules share: their error and the restricted-join key.

`core.auth_rules` is the entry point (and re-exports `AuthError`); `core.auth_membership`
holds the membership rule. Both raise `AuthError`, whose message names the rule that failed.
"""

from __future__ import annotations

from typing import Final

from core.errors import M_FORBIDDEN, MatrixError

__all__ = ["AUTHORISED_VIA", "AuthError", "StateKey"]

AUTHORISED_VIA: Final = "join_authorised_via_users_server"

StateKey = tuple[str, str]


class AuthError(MatrixError):
    """An event is not allowed by the authorisation rules (always `M_FORBIDDEN`)."""

    def __init__(self, message: str) -> None:
        super().__init__(M_FORBIDDEN, message)

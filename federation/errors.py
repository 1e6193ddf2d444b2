"""The one error type of outbound federation: what went wrong talking to which server.

A `FederationError` is not a `MatrixError`: it describes a remote server's failure (or our
refusal to contact it), and the caller decides what its own client sees (a 502, a `failures`
entry, a retry later).
"""

from __future__ import annotations

__all__ = ["FederationError"]


class FederationError(Exception):
    """A federation request to `destination` failed.

    Attributes:
        destination: The server name the request was for.
        status: The HTTP status of the remote answer; None when there was no answer
            (connection refused, timeout, TLS failure, address refused by policy).
        errcode: The Matrix errcode of the remote error body, when it had one.
        message: What went wrong, without secrets or response bodies.
        retryable: Whether trying again later may help.
    """

    def __init__(
        self,
        destination: str,
        message: str,
        *,
        status: int | None = None,
        errcode: str | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(f"{destination}: {message}")
        self.destination = destination
        self.message = message
        self.status = status
        self.errcode = errcode
        self._permanent = permanent

    @property
    def retryable(self) -> bool:
        """Whether trying again later may help: no answer, 5xx or 429, unless the failure is
        permanent (a refused destination or address, an invalid server name)."""
        if self._permanent:
            return False
        return self.status is None or self.status >= 500 or self.status == 429

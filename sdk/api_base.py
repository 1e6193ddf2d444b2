"""The shared base of the `AsyncClient` API groups: the transport, the session, transaction IDs.

`AsyncClient` is assembled from API groups (`sdk.api_session`, `sdk.api_rooms`, `sdk.api_media`,
`sdk.api_keys`) that each add the methods of one area over this base, so no module grows past
its size budget.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable

from core.errors import JsonDict
from sdk.errors import LocalProtocolError, UserInteractiveAuthRequired
from sdk.http import HttpTransport
from sdk.requests import Request
from sdk.state import ClientState
from sdk.store import Store
from sdk.uia import Credentials, next_auth

__all__ = ["ClientBase", "RequestFactory"]

_MAX_UIA_ROUNDS = 5
RequestFactory = Callable[[JsonDict | None], Request]


class ClientBase:
    """The session and transport every API group uses.

    Attributes:
        homeserver_url: The base URL of the homeserver.
        state: What this client knows from sync (`sdk.state.ClientState`).
        device_id: This session's device ID, once logged in.
        store: The local store, if any.
    """

    def __init__(self, transport: HttpTransport, store: Store | None) -> None:
        self._http = transport
        self.store = store
        self.homeserver_url = transport.base_url
        self.state = ClientState()
        self.device_id: str | None = None
        self._txn_prefix = secrets.token_urlsafe(8)
        self._txn_counter = itertools.count()

    @property
    def user_id(self) -> str | None:
        """Our user ID, once logged in."""
        return self.state.user_id

    @property
    def logged_in(self) -> bool:
        """Whether the client holds an access token."""
        return self._http.access_token is not None

    def _require_user(self) -> str:
        if self.state.user_id is None:
            raise LocalProtocolError("not logged in")
        return self.state.user_id

    def new_txn_id(self) -> str:
        """A transaction ID unique to this client instance (spec: scoped to the device)."""
        return f"{self._txn_prefix}.{next(self._txn_counter)}"

    async def request_json(self, request: Request) -> JsonDict:
        """Send any `sdk.requests.Request` and return the JSON object it answers with.

        Raises:
            MatrixRequestError: The server refused (after retries where allowed).
            TransportError: The network failed.
        """
        return await self._http.json(request)

    async def with_uia(self, build: RequestFactory, credentials: Credentials) -> JsonDict:
        """Send `build(None)`; while the server answers with a user-interactive auth challenge,
        complete the next stage we can and send `build(auth)` again.

        Raises:
            UserInteractiveAuthRequired: No offered flow can be completed with `credentials`,
                or a stage failed (its errcode says why).
        """
        auth: JsonDict | None = None
        for _ in range(_MAX_UIA_ROUNDS):
            try:
                return await self._http.json(build(auth))
            except UserInteractiveAuthRequired as challenge:
                failed = auth is not None and auth["type"] not in challenge.completed
                if failed and challenge.errcode != "M_UNKNOWN":
                    raise
                auth = next_auth(challenge, credentials)
                if auth is None:
                    raise
        raise UserInteractiveAuthRequired("M_FORBIDDEN", "Too many auth rounds", status=401)

"""The Tessera client SDK: a sans-I/O Matrix client core, an aiohttp `AsyncClient` and bots.

The front door: everything a bot or client author needs is importable from `sdk` itself::

    from sdk import E2EE, AsyncClient, Bot, Room, RoomEvent, Store, UserInUseError

Exported here: the client (`AsyncClient`, `RetryPolicy`), the bot framework (`Bot`), the event
views (`RoomEvent` and its kin), the client's view of rooms (`ClientState`, `Room`, `Member`), the
local `Store` and its search index of decrypted messages (`LocalSearch`), the sync and media
response types (`SavedMedia` for streamed downloads), the
callback and `Progress` types, the crypto extension points (`CryptoHooks`, `AttachmentCrypto`,
`StreamingAttachmentCrypto`), every exception class, and `E2EE`.

`E2EE` (and the rest of `sdk.crypto`) is loaded on first use rather than by `import sdk`: it
depends on the client, not the other way round, and a bot without encryption does not pay for
loading vodozemac. `from sdk import E2EE` works as any other name. The lower layers stay modules
of their own: `sdk.requests` / `sdk.keys_requests` (request builders), `sdk.responses`,
`sdk.events`, `sdk.state`, `sdk.http`, `sdk.crypto`. The SDK never imports `homeserver` or
`federation`.

Invariant: modules inside `sdk` import from each other (`sdk.client`, `sdk.errors`, ...), never
from this package's re-exports, so this file can import them all without a cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sdk.api_expiry import ExpiryCallback
from sdk.api_media import SavedMedia
from sdk.bot import Bot, CommandHandler, MessageHandler
from sdk.client import AsyncClient
from sdk.errors import (
    BadJsonError,
    DecryptionError,
    EncryptionRequiredError,
    ForbiddenError,
    GuestAccessForbiddenError,
    InvalidParamError,
    InvalidUsernameError,
    LimitExceededError,
    LocalProtocolError,
    MalformedResponseError,
    MatrixRequestError,
    MissingParamError,
    MissingTokenError,
    NotFoundError,
    SdkError,
    ServerError,
    StoreMismatchError,
    TooLargeError,
    TransportError,
    UnknownTokenError,
    UnrecognizedError,
    UnsupportedRoomVersionError,
    UserDeactivatedError,
    UserInteractiveAuthRequired,
    UserInUseError,
    WeakPasswordError,
)
from sdk.events import (
    BasicEvent,
    RoomEvent,
    StateEvent,
    StrippedStateEvent,
    ToDeviceEvent,
    UndecryptableEvent,
)
from sdk.expiry import ExpiredEvent, ExpiryTracker
from sdk.hooks import (
    AttachmentCrypto,
    CryptoHooks,
    EventCallback,
    InviteCallback,
    StreamingAttachmentCrypto,
    SyncCallback,
    ToDeviceCallback,
)
from sdk.http import RetryPolicy
from sdk.responses import DownloadResponse, MessagesResponse, SyncResponse
from sdk.search import IndexSealer, LocalSearch, SearchError
from sdk.state import ClientState, Member, Room
from sdk.store import Store
from sdk.transfer import Progress

if TYPE_CHECKING:
    from sdk.crypto.e2ee.client import E2EE

__all__ = [
    "E2EE",
    "AsyncClient",
    "AttachmentCrypto",
    "BadJsonError",
    "BasicEvent",
    "Bot",
    "ClientState",
    "CommandHandler",
    "CryptoHooks",
    "DecryptionError",
    "DownloadResponse",
    "EncryptionRequiredError",
    "EventCallback",
    "ExpiredEvent",
    "ExpiryCallback",
    "ExpiryTracker",
    "ForbiddenError",
    "GuestAccessForbiddenError",
    "IndexSealer",
    "InvalidParamError",
    "InvalidUsernameError",
    "InviteCallback",
    "LimitExceededError",
    "LocalProtocolError",
    "LocalSearch",
    "MalformedResponseError",
    "MatrixRequestError",
    "Member",
    "MessageHandler",
    "MessagesResponse",
    "MissingParamError",
    "MissingTokenError",
    "NotFoundError",
    "Progress",
    "RetryPolicy",
    "Room",
    "RoomEvent",
    "SavedMedia",
    "SdkError",
    "SearchError",
    "ServerError",
    "StateEvent",
    "Store",
    "StoreMismatchError",
    "StreamingAttachmentCrypto",
    "StrippedStateEvent",
    "SyncCallback",
    "SyncResponse",
    "ToDeviceCallback",
    "ToDeviceEvent",
    "TooLargeError",
    "TransportError",
    "UndecryptableEvent",
    "UnknownTokenError",
    "UnrecognizedError",
    "UnsupportedRoomVersionError",
    "UserDeactivatedError",
    "UserInUseError",
    "UserInteractiveAuthRequired",
    "WeakPasswordError",
]

# Names loaded on first access (PEP 562), by the module that defines them.
_LAZY = {"E2EE": "sdk.crypto.e2ee.client"}


def __getattr__(name: str) -> object:
    """Load a lazily exported name (`E2EE`) on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

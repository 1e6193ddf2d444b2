"""The extension points of `AsyncClient`: the crypto hooks and the callback types.

`CryptoHooks` is what the end-to-end encryption layer (`sdk.crypto`) implements and installs as
`AsyncClient.crypto`. The client calls it at fixed points: `on_sync` after each sync response is
folded into `ClientState` and before any callback runs; `encrypt` when sending a message event to
an encrypted room; `decrypt` for every `m.room.encrypted` timeline event before callbacks see it.

`AttachmentCrypto` is optional: a crypto layer that also implements it lets `sdk.bot` send and
receive files in encrypted rooms (the spec's v2 encrypted attachments). `StreamingAttachmentCrypto`
(also optional) does the same chunk by chunk, so encrypted files stream from and to disk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from core.errors import JsonDict
from sdk.events import RoomEvent, ToDeviceEvent
from sdk.responses import SyncResponse
from sdk.search import IndexSealer
from sdk.state import Room
from sdk.transfer import ChunkTransform

__all__ = [
    "AttachmentCrypto",
    "CryptoHooks",
    "EncryptingTransform",
    "EventCallback",
    "IndexSealing",
    "InviteCallback",
    "StreamingAttachmentCrypto",
    "SyncCallback",
    "ToDeviceCallback",
]


@runtime_checkable
class CryptoHooks(Protocol):
    """End-to-end encryption as the client sees it."""

    async def on_sync(self, response: SyncResponse) -> None:
        """Handle the encryption parts of a sync: to-device events, device list changes,
        one-time key counts. May call client methods (keys upload, claim, sendToDevice).

        Raising makes the client re-sync from the previous token (nothing is acknowledged)."""
        ...

    def is_room_encrypted(self, room_id: str) -> bool:
        """Whether messages to `room_id` must be encrypted."""
        ...

    async def encrypt(self, room_id: str, event_type: str, content: JsonDict) -> JsonDict:
        """The `m.room.encrypted` content carrying `event_type` and `content` for `room_id`."""
        ...

    async def decrypt(self, event: RoomEvent) -> RoomEvent:
        """The decrypted view of an `m.room.encrypted` event (see `RoomEvent.decrypted_view`).

        Raises:
            sdk.errors.DecryptionError: The event cannot be decrypted or fails validation.
        """
        ...


@runtime_checkable
class AttachmentCrypto(Protocol):
    """Encrypted attachments (optional part of a crypto layer)."""

    def encrypt_file(self, plaintext: bytes) -> tuple[bytes, Callable[[str], JsonDict]]:
        """Encrypt a file: the ciphertext to upload, and a function from its mxc URI to the
        spec's `EncryptedFile` object for the event's `file` field."""
        ...

    def decrypt_file(self, ciphertext: bytes, file_info: JsonDict) -> bytes:
        """Check the hash and decrypt a downloaded `EncryptedFile` (raises on tampering)."""
        ...


class EncryptingTransform(ChunkTransform, Protocol):
    """An attachment encryptor: a `ChunkTransform` that knows the resulting `EncryptedFile`."""

    def file_info(self, url: str) -> JsonDict:
        """The spec's `EncryptedFile` object for the ciphertext of the last complete pass,
        uploaded at `url`."""
        ...


@runtime_checkable
class StreamingAttachmentCrypto(Protocol):
    """Encrypted attachments chunk by chunk (optional part of a crypto layer)."""

    def attachment_encryptor(self) -> EncryptingTransform:
        """A fresh encryptor (new key and IV) for one file."""
        ...

    def attachment_decryptor(self, file_info: JsonDict) -> ChunkTransform:
        """A decryptor for a downloaded `EncryptedFile`; its `finish` checks the hash."""
        ...


@runtime_checkable
class IndexSealing(Protocol):
    """A crypto layer that also seals the local search index (optional part of it)."""

    def index_sealer(self) -> IndexSealer | None:
        """The sealer of the local search index, or None if the crypto state is not sealed."""
        ...


EventCallback = Callable[[Room, RoomEvent], Awaitable[None] | None]
"""Called with the room and each timeline event (decrypted, or an `UndecryptableEvent`)."""

InviteCallback = Callable[[Room], Awaitable[None] | None]
"""Called with each room we are newly invited to."""

ToDeviceCallback = Callable[[ToDeviceEvent], Awaitable[None] | None]
"""Called with each to-device event, after `CryptoHooks.on_sync`."""

SyncCallback = Callable[[SyncResponse], Awaitable[None] | None]
"""Called with each whole sync response, after the event callbacks."""

"""Files in rooms: encrypted attachments, signed file events, and room history bundles.

`send_file` uploads a file — AES-CTR encrypted in the spec's v2 format when the room is
encrypted, as is otherwise — and sends an `m.room.message` whose content carries the Tessera
signed-file claims (`io.tessera.signed_file`, see `sdk.crypto.protocol.signed_files`). `download_file`
does the reverse and checks everything before returning a byte: the ciphertext hash, the
signature against the sender's device key, and that the signed hash, size, MIME type, room and
sender match what was downloaded and the event says.

`share_history` implements the spec's `m.room_key_bundle`: the room's shareable sessions are
serialised, encrypted and uploaded like an attachment, and the bundle is announced over Olm to
the invitee's devices; received bundles are downloaded and imported for that room only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

from core.errors import JsonDict
from core.event_types import M_ROOM_CREATE, M_ROOM_ENCRYPTION, M_ROOM_MESSAGE, Membership
from sdk.crypto.e2ee.driver import DriverBase
from sdk.crypto.errors import CryptoError, FileSignatureInvalid, UnsignedFile
from sdk.crypto.machine.olm_machine import KeyBundleNotice
from sdk.crypto.protocol.attachments import (
    AttachmentDecryptor,
    AttachmentEncryptor,
    decrypt_attachment,
    encrypt_attachment,
)
from sdk.crypto.protocol.devices import DeviceTrust
from sdk.crypto.protocol.signed_files import (
    SIGNED_FILE_KEY,
    FileTrust,
    SignedFileCheck,
    build_signed_file,
    check_signed_file,
    signed_file_claims,
)
from sdk.errors import MatrixRequestError, NotFoundError, SdkError
from sdk.events import RoomEvent

__all__ = ["DownloadedFile", "FilesMixin"]

logger = logging.getLogger(__name__)

_THREAD_THRESHOLD: Final = 1 << 20  # bytes above which AES runs off the event loop
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class DownloadedFile:
    """A file that passed every check.

    Attributes:
        data: The plaintext bytes.
        trust: `VERIFIED`, `UNVERIFIED_DEVICE` or `UNSIGNED`.
        device_id: The device that signed it, if signed.
        mimetype: The MIME type from the event.
        filename: The file name from the event's `body`.
    """

    data: bytes = field(repr=False)
    trust: FileTrust
    device_id: str | None
    mimetype: str | None
    filename: str | None


def _msgtype(mimetype: str) -> str:
    major = mimetype.split("/", 1)[0]
    return {"image": "m.image", "video": "m.video", "audio": "m.audio"}.get(major, "m.file")


class FilesMixin(DriverBase):
    """Encrypted and signed files, and history bundles."""

    # --- sdk.hooks.AttachmentCrypto ----------------------------------------------------

    def encrypt_file(self, plaintext: bytes) -> tuple[bytes, Callable[[str], JsonDict]]:
        """Encrypt a file: the ciphertext to upload and a function from its mxc URI to the
        `EncryptedFile` object."""
        encrypted = encrypt_attachment(plaintext)
        return encrypted.ciphertext, encrypted.file_info

    def decrypt_file(self, ciphertext: bytes, file_info: JsonDict) -> bytes:
        """Check the hash of and decrypt a downloaded `EncryptedFile`."""
        return decrypt_attachment(ciphertext, file_info)

    # --- sdk.hooks.StreamingAttachmentCrypto -------------------------------------------

    def attachment_encryptor(self) -> AttachmentEncryptor:
        """A fresh attachment encryptor for one file streamed from disk."""
        return AttachmentEncryptor()

    def attachment_decryptor(self, file_info: JsonDict) -> AttachmentDecryptor:
        """A decryptor for a downloaded `EncryptedFile` streamed to disk.

        Raises:
            AttachmentError: The object is malformed.
        """
        return AttachmentDecryptor(file_info)

    # --- sending -----------------------------------------------------------------------

    async def send_file(
        self,
        room_id: str,
        data: bytes,
        *,
        filename: str,
        mimetype: str = "application/octet-stream",
        msgtype: str | None = None,
        sign: bool = True,
        extra: JsonDict | None = None,
    ) -> str:
        """Upload `data` and send it as a file message signed by this device; return the event ID."""
        content: JsonDict = {
            "msgtype": msgtype or _msgtype(mimetype),
            "body": filename,
            "info": {"mimetype": mimetype, "size": len(data)},
            **(extra or {}),
        }
        if await self._room_encrypted(room_id):
            encrypted = await self._off_loop(encrypt_attachment, data)
            uri = await self.client.upload(encrypted.ciphertext, "application/octet-stream")
            content["file"] = encrypted.file_info(uri)
        else:
            content["url"] = await self.client.upload(data, mimetype, filename)
        if sign:
            content[SIGNED_FILE_KEY] = build_signed_file(
                data,
                mimetype=mimetype,
                room_id=room_id,
                sender=self.user_id,
                device_id=self.device_id,
                sign=self.machine.account.sign,
            )
        return await self.client.room_send(room_id, M_ROOM_MESSAGE, content)

    async def _room_encrypted(self, room_id: str) -> bool:
        if self.client.state.is_encrypted(room_id):
            return True
        room = self.client.state.room(room_id)
        if room is not None and room.state_event(M_ROOM_CREATE) is not None:
            return False
        try:
            await self.client.get_state_event(room_id, M_ROOM_ENCRYPTION)
        except NotFoundError:
            return False
        return True

    async def _off_loop(self, func: Callable[[bytes], _T], data: bytes) -> _T:
        if len(data) >= _THREAD_THRESHOLD:
            return await asyncio.to_thread(func, data)
        return func(data)

    # --- receiving ---------------------------------------------------------------------

    async def _device_key(self, sender: str, device_id: str) -> tuple[str, bool] | None:
        device = self.machine.trust.device(sender, device_id)
        if device is None:
            await self.query_keys([sender])
            device = self.machine.trust.device(sender, device_id)
        if device is None:
            return None
        return device.ed25519, self.machine.trust.trust(device) is DeviceTrust.VERIFIED

    async def download_file(
        self, event: RoomEvent, *, require_signature: bool = False
    ) -> DownloadedFile:
        """Download, decrypt and check the file of a (decrypted) file message.

        Raises:
            AttachmentHashMismatch: The bytes differ from the event's or the signed hash.
            FileSignatureInvalid: The signature is forged or does not match the event.
            UnsignedFile: `require_signature` and the event carries no signature.
            CryptoError: The event is not a file message.
        """
        content = event.content
        info = content.get("info")
        mimetype = info.get("mimetype") if isinstance(info, dict) else None
        mimetype = mimetype if isinstance(mimetype, str) else None
        file_info, url = content.get("file"), content.get("url")
        if isinstance(file_info, dict) and isinstance(file_info.get("url"), str):
            ciphertext = (await self.client.download(file_info["url"])).body
            data = await asyncio.to_thread(decrypt_attachment, ciphertext, file_info)
        elif isinstance(url, str):
            data = (await self.client.download(url)).body
        else:
            raise CryptoError("the event carries no file")
        check = await self._check_claims(event, data, mimetype, require_signature)
        body = content.get("body")
        return DownloadedFile(
            data, check.trust, check.device_id, mimetype, body if isinstance(body, str) else None
        )

    async def _check_claims(
        self, event: RoomEvent, data: bytes, mimetype: str | None, require_signature: bool
    ) -> SignedFileCheck:
        claims = signed_file_claims(event.content)
        if claims is None:
            if require_signature:
                raise UnsignedFile("the file event carries no signature")
            return SignedFileCheck(FileTrust.UNSIGNED, None)
        signed = claims.get("signed")
        if not isinstance(signed, dict) or signed.get("mimetype") != mimetype:
            raise FileSignatureInvalid("the signed MIME type differs from the event's")
        device_id = claims.get("device_id")
        known = (
            await self._device_key(event.sender, device_id) if isinstance(device_id, str) else None
        )
        return check_signed_file(
            claims, data, room_id=event.room_id, sender=event.sender, device_key=lambda _: known
        )

    # --- history bundles ---------------------------------------------------------------

    async def share_history(self, room_id: str, user_id: str) -> int:
        """Share the room's shareable Megolm sessions with `user_id` (`m.room_key_bundle`).

        Returns:
            How many sessions the bundle holds.
        """
        bundle = self.machine.room_key_bundle(room_id)
        encrypted = encrypt_attachment(json.dumps(bundle).encode())
        uri = await self.client.upload(encrypted.ciphertext, "application/octet-stream")
        async with self.lock:
            await self.query_keys([user_id])
            self.machine.queue_room_key_bundle(room_id, user_id, encrypted.file_info(uri))
            await self.flush()
        return len(bundle["room_keys"])

    async def import_bundle(self, notice: KeyBundleNotice) -> int:
        """Download and import a received history bundle (best effort; 0 on failure)."""
        room = self.client.state.room(notice.room_id)
        if room is None or room.membership not in (Membership.JOIN, Membership.INVITE):
            logger.info("ignoring a key bundle for a room we are not in room_id=%s", notice.room_id)
            return 0
        try:
            url = notice.file.get("url")
            ciphertext = (await self.client.download(str(url))).body
            bundle = json.loads(decrypt_attachment(ciphertext, notice.file))
        except (CryptoError, MatrixRequestError, SdkError, ValueError) as exc:
            logger.warning(
                "key bundle download failed room_id=%s: %s", notice.room_id, type(exc).__name__
            )
            return 0
        if not isinstance(bundle, dict):
            return 0
        imported = self.machine.import_room_key_bundle(bundle, notice.room_id, notice.sender)
        await self.save()
        return imported

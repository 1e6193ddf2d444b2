"""`E2EE`: end-to-end encryption for an `AsyncClient` (implements `sdk.hooks.CryptoHooks`).

Install it once per logged-in client::

    client = AsyncClient(url, store=await Store.open("bot.db"))
    await client.login("bot", password)
    e2ee = await E2EE.install(client, passphrase="local secret")   # keys made on this device
    await client.send_text(room_id, "hello")                        # encrypted if the room is

On the first login the device's identity keys are generated locally, stored in the client's
store (sealed with the passphrase if given) and uploaded signed; later logins with the same store
and device reuse them. The hooks then run at the client's fixed points: `on_sync` consumes
to-device events, device list changes and key counts (and does the key upload, query, claim and
send round trips); `encrypt` shares the room key with every device of every member and encrypts;
`decrypt` decrypts with replay protection, asking our other devices (and the key backup) for
missing keys.

Everything else the SDK offers for encryption — files, verification, backup, secret storage,
cross-signing, history sharing — is a method of this class, from the mixins it is built of.
"""

from __future__ import annotations

import asyncio
import logging

from core.errors import JsonDict
from core.event_types import Membership
from sdk.client import AsyncClient
from sdk.crypto.e2ee.files import FilesMixin
from sdk.crypto.e2ee.recovery import RecoveryMixin
from sdk.crypto.e2ee.verification import VerificationMixin
from sdk.crypto.errors import CryptoError, MissingRoomKey
from sdk.crypto.machine.olm_machine import OlmMachine
from sdk.crypto.machine.rooms import DecryptedRoomEvent, RoomSettings
from sdk.crypto.protocol.devices import Device, DeviceTrust
from sdk.crypto.store import CryptoStore, IndexSealer, KeyValueBackend, MemoryBackend
from sdk.errors import LocalProtocolError, MatrixRequestError, SdkError
from sdk.events import RoomEvent
from sdk.responses import SyncResponse

__all__ = ["E2EE"]

logger = logging.getLogger(__name__)


class E2EE(FilesMixin, RecoveryMixin, VerificationMixin):
    """This device's end-to-end encryption, driving an `OlmMachine` through an `AsyncClient`.

    Attributes:
        client: The client it is installed in.
        machine: The sans-I/O core.
        store: Where the machine is persisted.
        only_verified: Share room keys only with verified devices (default: every device that
            is not blocked).
    """

    def __init__(
        self,
        client: AsyncClient,
        machine: OlmMachine,
        store: CryptoStore,
        *,
        only_verified: bool = False,
    ) -> None:
        super().__init__(client, machine, store)
        self.only_verified = only_verified
        self._changed = asyncio.Condition()

    @classmethod
    async def install(
        cls,
        client: AsyncClient,
        *,
        passphrase: str | None = None,
        backend: KeyValueBackend | None = None,
        only_verified: bool = False,
    ) -> E2EE:
        """Load (or create on first login) this device's keys and install the hooks.

        Args:
            client: A logged-in client.
            passphrase: Seals the local crypto state (scrypt + AES-GCM) when given.
            backend: Where to keep the crypto state; the client's store by default, memory
                if it has none.
            only_verified: Share room keys only with verified devices.

        Raises:
            LocalProtocolError: The client is not logged in.
            WrongPassphrase: The passphrase does not open the stored state.
        """
        if client.user_id is None or client.device_id is None:
            raise LocalProtocolError("log in before installing end-to-end encryption")
        chosen = backend or client.store or MemoryBackend()
        store = await CryptoStore.open(chosen, passphrase)
        machine = await OlmMachine.load(store, client.user_id, client.device_id)
        e2ee = cls(client, machine, store, only_verified=only_verified)
        machine.update_tracked_users([client.user_id])
        await e2ee.upload_keys()
        await e2ee.save()
        client.crypto = e2ee
        client.add_sync_callback(e2ee._after_sync)
        return e2ee

    def index_sealer(self) -> IndexSealer | None:
        """Seals the client's local search index like the crypto state (`sdk.hooks.IndexSealing`):
        None when the crypto state has no passphrase."""
        return self.store.index_sealer()

    # --- sdk.hooks.CryptoHooks ---------------------------------------------------------

    def is_room_encrypted(self, room_id: str) -> bool:
        """Whether the client's state says the room is encrypted."""
        return self.client.state.is_encrypted(room_id)

    async def on_sync(self, response: SyncResponse) -> None:
        """Fold a sync's encryption data and do the round trips it calls for."""
        outcome = self.machine.receive_sync(
            ((e.type, e.sender, e.content) for e in response.to_device),
            changed=response.device_lists.changed,
            left=response.device_lists.left,
            one_time_key_counts=response.device_one_time_keys_count,
            unused_fallback_key_types=response.device_unused_fallback_key_types,
        )
        self._track_rooms()
        self.machine.outgoing += outcome.outgoing
        await self.save()
        try:
            async with self.lock:
                await self.upload_keys()
                await self.query_keys()
                await self.flush()
            for bundle in outcome.bundles:
                await self.import_bundle(bundle)
            if outcome.room_keys or (
                self.machine.backup_encryptor and self.machine.groups_to_back_up(1)
            ):
                await self.upload_backup()
        except (MatrixRequestError, SdkError, CryptoError) as exc:
            # The machine keeps what still needs doing (outdated users, pending keys): the
            # next sync retries it. Raising would make the client re-sync the same batch.
            logger.warning(
                "encryption round trip failed, retrying next sync: %s", type(exc).__name__
            )
        await self.notify_changed()

    def _track_rooms(self) -> None:
        changes = self.client.last_sync_changes
        if changes is None:
            return
        for change in changes.members:
            if change.new in (Membership.LEAVE, Membership.BAN) and self.client.state.is_encrypted(
                change.room_id
            ):
                self.machine.on_member_left(change.room_id, change.user_id)
        for room_id in changes.rooms:
            room = self.client.state.room(room_id)
            if room is not None and room.encrypted and room.membership == Membership.JOIN:
                self.machine.update_tracked_users(
                    room.member_ids((Membership.JOIN, Membership.INVITE))
                )

    async def _after_sync(self, response: SyncResponse) -> None:
        del response
        await self.save()  # the replay log of the events just decrypted

    async def encrypt(self, room_id: str, event_type: str, content: JsonDict) -> JsonDict:
        """Share the room key with every member device that lacks it, then encrypt."""
        async with self.room_lock(room_id):
            users, encryption, history = await self.fetch_members(room_id)
            settings = RoomSettings.from_state(encryption, history)
            async with self.lock:
                self.machine.update_tracked_users(users)
                await self.query_keys()
                recipients = self.machine.recipients(users, only_verified=self.only_verified)
                await self.claim_sessions(recipients.values())
                requests = self.machine.share_room_key(
                    room_id, users, settings, only_verified=self.only_verified
                )
                try:
                    await self.send_to_device(requests)
                except BaseException:
                    self.machine.discard_group_session(room_id)
                    await self.save()
                    raise
                encrypted = self.machine.encrypt_room_event(room_id, event_type, content)
                await self.save()
        return encrypted

    async def decrypt(self, event: RoomEvent) -> RoomEvent:
        """The decrypted view of an `m.room.encrypted` event.

        Raises:
            MissingRoomKey: No key for its session, even from the backup (a key request was
                sent to our other devices).
            DecryptionError: Replay, bad MAC, wrong room or sender, malformed.
        """
        try:
            result = self._decrypt(event)
        except MissingRoomKey as exc:
            if not await self.key_from_backup(exc.room_id, exc.session_id):
                await self._request_key(exc)
                raise
            result = self._decrypt(event)
        return event.decrypted_view(result.event_type, result.content, result.info())

    def _decrypt(self, event: RoomEvent) -> DecryptedRoomEvent:
        return self.machine.decrypt_room_event(
            event.room_id, event.sender, event.event_id, event.origin_server_ts, event.content
        )

    async def _request_key(self, missing: MissingRoomKey) -> None:
        if not self.machine.devices_of(self.user_id):
            return
        request = self.machine.request_room_key(missing.room_id, missing.session_id)
        if request is None:
            return
        try:
            await self.send_to_device([request])
        except (MatrixRequestError, SdkError) as exc:
            logger.info("room key request not sent: %s", type(exc).__name__)

    # --- devices and trust -------------------------------------------------------------

    async def devices(self, user_id: str) -> list[Device]:
        """A user's devices with valid keys (queried if not known yet)."""
        if user_id not in self.machine.trust.devices:
            await self.query_keys([user_id])
        return list(self.machine.trust.devices.get(user_id, {}).values())

    def device_trust(self, user_id: str, device_id: str) -> DeviceTrust | None:
        """A known device's trust level."""
        return self.machine.device_trust(user_id, device_id)

    async def verify_device(
        self, user_id: str, device_id: str, fingerprint: str | None = None
    ) -> None:
        """Mark a device verified after comparing its fingerprint out of band.

        Raises:
            VerificationError: Unknown device or mismatched fingerprint.
        """
        if self.machine.trust.device(user_id, device_id) is None:
            await self.query_keys([user_id])
        self.machine.verify_device(user_id, device_id, fingerprint)
        await self.flush()

    async def block_device(self, user_id: str, device_id: str) -> None:
        """Stop sharing room keys with a device."""
        self.machine.block_device(user_id, device_id)
        await self.save()

    def export_session_key(self, room_id: str, session_id: str) -> str:
        """A Megolm session's key in the export format (e.g. for an external decrypter)."""
        group = self.machine.inbound.get(room_id, session_id)
        if group is None:
            raise MissingRoomKey(room_id, session_id)
        return group.export()

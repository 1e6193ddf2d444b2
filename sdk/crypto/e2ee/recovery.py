"""Server-side key backup, secret storage and cross-signing setup, with the client.

- `enable_backup` creates an `m.megolm_backup.v1.curve25519-aes-sha2` backup version whose
  `auth_data` is signed by this device (and the master key, if we have it), uploads every
  session, and returns the recovery key to show the user. New sessions are uploaded after each
  sync. Another device uploads to a backup only after checking `auth_data` is signed by one of
  our verified devices or our verified master key, or that it holds the private key.
- `restore_backup` (on a fresh device) checks a recovery key against the current backup and
  imports every session it decrypts. A missing session is also fetched from the backup on demand.
- `bootstrap_cross_signing` creates and uploads the cross-signing keys (user-interactive auth
  with the password if the server asks), self-signing this device.
- `setup_secret_storage` puts the cross-signing private keys and the backup key into account data
  encrypted with a new secret storage key (`m.secret_storage.v1.aes-hmac-sha2`); the server only
  ever sees ciphertext. `restore_from_secret_storage` brings them to a new device.
"""

from __future__ import annotations

import logging

from core.errors import JsonDict
from sdk.crypto.e2ee.driver import DriverBase
from sdk.crypto.errors import BackupError, SecretStorageError
from sdk.crypto.protocol.backup import (
    BACKUP_ALGORITHM,
    BACKUP_SECRET_NAME,
    BackupEncryptor,
    BackupKey,
)
from sdk.crypto.protocol.cross_signing import SECRET_NAMES, CrossSigningSecrets
from sdk.crypto.protocol.devices import DeviceTrust
from sdk.crypto.protocol.secret_storage import DEFAULT_KEY_EVENT, SecretStorageKey, key_event_type
from sdk.crypto.protocol.signing import has_valid_signature
from sdk.errors import MatrixRequestError, NotFoundError

__all__ = ["RecoveryMixin"]

logger = logging.getLogger(__name__)


class RecoveryMixin(DriverBase):
    """Key backup, secret storage and cross-signing bootstrap."""

    # --- key backup --------------------------------------------------------------------

    async def enable_backup(self) -> str:
        """Create a new backup version, upload every session; return the recovery key."""
        key = BackupKey.generate()
        auth_data = self.machine.account.sign_json(key.auth_data())
        if self.machine.cross_signing is not None:
            auth_data = self.machine.cross_signing.sign_with_master(auth_data)
        version = await self.client.room_keys_version_create(BACKUP_ALGORITHM, auth_data)
        self._use_backup(key, version)
        for group in self.machine.inbound.groups.values():
            group.backed_up = False
            self.machine.inbound.dirty.add((group.room_id, group.session_id))
        await self.upload_backup()
        return key.to_recovery_key()

    def _use_backup(self, key: BackupKey, version: str) -> None:
        self.machine.backup_key = key
        self.machine.backup_version = version
        self.machine.backup_encryptor = key.encryptor()
        self.machine.mark("secrets", "backup")

    def _trusted_auth_data(self, info: JsonDict) -> bool:
        auth_data = info.get("auth_data")
        if info.get("algorithm") != BACKUP_ALGORITHM or not isinstance(auth_data, dict):
            return False
        if self.machine.backup_key is not None and self.machine.backup_key.matches(info):
            return True
        trust = self.machine.trust
        identity = trust.identities.get(self.user_id)
        if (
            identity is not None
            and trust.identity_verified(self.user_id)
            and identity.master.signed(auth_data, self.user_id)
        ):
            return True
        for device in self.machine.trust.devices.get(self.user_id, {}).values():
            key_id = f"ed25519:{device.device_id}"
            if trust.trust(device) is DeviceTrust.VERIFIED and has_valid_signature(
                auth_data, self.user_id, key_id, device.ed25519
            ):
                return True
        return False

    async def _current_backup(self) -> bool:
        if self.machine.backup_encryptor is not None:
            return True
        try:
            info = await self.client.room_keys_version()
        except NotFoundError:
            return False
        if not self._trusted_auth_data(info):
            return False
        self.machine.backup_version = str(info.get("version"))
        self.machine.backup_encryptor = BackupEncryptor(str(info["auth_data"]["public_key"]))
        return True

    async def upload_backup(self) -> int:
        """Upload sessions not yet backed up to the current trusted backup; returns how many."""
        if not await self._current_backup() or self.machine.backup_version is None:
            return 0
        uploaded = 0
        while groups := self.machine.groups_to_back_up():
            body = self.machine.backup_body(groups)
            await self.client.room_keys_put(self.machine.backup_version, body)
            self.machine.mark_backed_up(groups)
            uploaded += len(groups)
        await self.save()
        return uploaded

    async def restore_backup(self, recovery_key: str | BackupKey) -> int:
        """Import every session of the current backup with its recovery key; returns how many.

        Raises:
            InvalidRecoveryKey: The string is not a valid recovery key.
            BackupError: There is no backup, or the key is not the backup's.
        """
        key = (
            recovery_key
            if isinstance(recovery_key, BackupKey)
            else BackupKey.from_recovery_key(recovery_key)
        )
        try:
            info = await self.client.room_keys_version()
        except NotFoundError as exc:
            raise BackupError("there is no key backup on the server") from exc
        if not key.matches(info):
            raise BackupError("this recovery key does not belong to the current backup")
        version = str(info.get("version"))
        imported = self.machine.import_backup(await self.client.room_keys_get(version), key)
        self._use_backup(key, version)
        await self.save()
        return imported

    async def key_from_backup(self, room_id: str, session_id: str) -> bool:
        """Fetch one missing session from the backup, if we hold its key."""
        key, version = self.machine.backup_key, self.machine.backup_version
        if key is None or version is None:
            return False
        try:
            data = await self.client.room_keys_get(version, room_id=room_id, session_id=session_id)
        except MatrixRequestError:
            return False
        response = {"rooms": {room_id: {"sessions": {session_id: data}}}}
        try:
            imported = self.machine.import_backup(response, key)
        except BackupError:
            return False
        await self.save()
        return imported > 0

    # --- cross-signing and secret storage -----------------------------------------------

    async def bootstrap_cross_signing(self, password: str | None = None) -> None:
        """Create, upload and start using cross-signing keys; self-sign this device.

        Args:
            password: Our account password, if the server asks for user-interactive auth.
        """
        keys = self.machine.bootstrap_cross_signing()
        await self.client.keys_device_signing_upload(keys, password=password)
        await self.flush()
        await self.query_keys([self.user_id])

    async def setup_secret_storage(self, passphrase: str | None = None) -> str:
        """Store our cross-signing keys (and backup key) encrypted in account data.

        Returns:
            The secret storage key as a recovery string (also derivable from `passphrase`).

        Raises:
            SecretStorageError: There are no cross-signing keys to store yet.
        """
        secrets_ = self.machine.cross_signing
        if secrets_ is None:
            raise SecretStorageError("bootstrap cross-signing before setting up secret storage")
        key = SecretStorageKey.generate(passphrase=passphrase)
        await self.client.set_account_data(key_event_type(key.key_id), key.description)
        stored = {SECRET_NAMES[usage]: seed for usage, seed in secrets_.seeds().items()}
        if self.machine.backup_key is not None:
            stored[BACKUP_SECRET_NAME] = self.machine.backup_key.to_base64()
        for name, secret in stored.items():
            await self.client.set_account_data(
                name, {"encrypted": {key.key_id: key.encrypt(name, secret)}}
            )
        await self.client.set_account_data(DEFAULT_KEY_EVENT, {"key": key.key_id})
        return key.to_recovery_key()

    async def _storage_key(
        self, recovery_key: str | None, passphrase: str | None
    ) -> SecretStorageKey:
        try:
            default = await self.client.get_account_data(DEFAULT_KEY_EVENT)
            key_id = str(default.get("key"))
            description = await self.client.get_account_data(key_event_type(key_id))
        except NotFoundError as exc:
            raise SecretStorageError("secret storage is not set up") from exc
        if recovery_key is not None:
            return SecretStorageKey.from_recovery_key(key_id, description, recovery_key)
        if passphrase is not None:
            return SecretStorageKey.from_passphrase(key_id, description, passphrase)
        raise SecretStorageError("give the recovery key or the passphrase")

    async def restore_from_secret_storage(
        self, *, recovery_key: str | None = None, passphrase: str | None = None
    ) -> None:
        """Bring our cross-signing keys (and backup key) to this device; cross-sign it.

        Raises:
            SecretStorageError: Not set up, wrong key, or tampered secrets.
            VerificationError: The stored keys are not the published ones.
        """
        key = await self._storage_key(recovery_key, passphrase)
        seeds: dict[str, str] = {}
        for usage, name in SECRET_NAMES.items():
            try:
                seeds[usage] = key.decrypt(name, await self.client.get_account_data(name))
            except NotFoundError as exc:
                raise SecretStorageError(f"secret {name} is not stored") from exc
        await self.query_keys([self.user_id])
        self.machine.import_cross_signing(CrossSigningSecrets.from_seeds(self.user_id, seeds))
        try:
            backup = key.decrypt(
                BACKUP_SECRET_NAME, await self.client.get_account_data(BACKUP_SECRET_NAME)
            )
        except NotFoundError:
            backup = None
        if backup is not None:
            await self._adopt_backup_key(BackupKey.from_base64(backup))
        await self.flush()

    async def _adopt_backup_key(self, key: BackupKey) -> None:
        try:
            info = await self.client.room_keys_version()
        except NotFoundError:
            return
        if key.matches(info):
            self._use_backup(key, str(info.get("version")))

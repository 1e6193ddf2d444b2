"""Key distribution for the Olm machine: `/keys/upload`, `/keys/query`, `/keys/claim`, tracking.

Builds the bodies of the key endpoints and folds their responses into the machine, following
the spec's "Tracking the device list for a user": a tracked user is marked outdated when sync
lists them in `device_lists.changed`, queried, and their devices replaced by the checked result.
One-time keys are topped up to half of what vodozemac can hold whenever the server's count
(from sync or the upload response) falls below that, and the fallback key is replaced when sync
stops listing `signed_curve25519` among the unused fallback key types.

Invariant: generated keys are signed and must be saved (`MachineBase.save`) before the upload
is sent, so a crash after the upload never loses the private half of a published key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from core.errors import JsonDict
from sdk.crypto.errors import SignatureInvalid
from sdk.crypto.machine.base import MachineBase
from sdk.crypto.protocol.account import SIGNED_CURVE25519
from sdk.crypto.protocol.devices import Device
from sdk.crypto.protocol.olm import verify_one_time_key

__all__ = ["KeysMixin"]

logger = logging.getLogger(__name__)


class KeysMixin(MachineBase):
    """Key upload, device tracking and one-time key claims."""

    @property
    def one_time_key_target(self) -> int:
        """How many one-time keys we keep on the server."""
        return self.account.max_one_time_keys // 2

    def keys_upload_body(self) -> JsonDict | None:
        """The `/keys/upload` body needed now (device keys, one-time keys, fallback), or None.

        Keys generated here are pending until `receive_keys_upload`; save the machine before
        sending the request.
        """
        body: JsonDict = {}
        if not self.account.shared:
            body["device_keys"] = self.account.device_keys()
        pending = self.account.unpublished_one_time_keys()
        count = self.otk_count if self.otk_count is not None else 0
        if not pending and (count < self.one_time_key_target or not self.account.shared):
            self.account.generate_one_time_keys(self.one_time_key_target - count)
            pending = self.account.unpublished_one_time_keys()
            self.mark("account", "account")
        fallback = self.account.unpublished_fallback_keys()
        if not fallback and (self.fallback_needed or not self.account.shared):
            self.account.generate_fallback_key()
            fallback = self.account.unpublished_fallback_keys()
            self.mark("account", "account")
        if pending:
            body["one_time_keys"] = pending
        if fallback:
            body["fallback_keys"] = fallback
        return body or None

    def receive_keys_upload(self, response: JsonDict) -> None:
        """The server accepted the upload: mark the keys published and note the new count."""
        self.account.mark_keys_as_published()
        self.account.shared = True
        self.fallback_needed = False
        counts = response.get("one_time_key_counts")
        count = counts.get(SIGNED_CURVE25519, 0) if isinstance(counts, dict) else None
        self.otk_count = count if isinstance(count, int) else self.otk_count
        self.mark("account", "account")

    def receive_key_counts(
        self, counts: Mapping[str, int], unused_fallback: Sequence[str] | None
    ) -> None:
        """Fold sync's `device_one_time_keys_count` and `device_unused_fallback_key_types`.

        An empty count map means zero only if the server also sent the fallback key types
        (servers may omit zero counts; old servers omit both).
        """
        if counts or unused_fallback is not None:
            self.otk_count = counts.get(SIGNED_CURVE25519, 0)
        if unused_fallback is not None and self.account.shared:
            self.fallback_needed = SIGNED_CURVE25519 not in unused_fallback

    def needs_key_upload(self) -> bool:
        """Whether `keys_upload_body` would return something."""
        return (
            not self.account.shared
            or self.fallback_needed
            or (self.otk_count is not None and self.otk_count < self.one_time_key_target)
            or bool(self.account.unpublished_one_time_keys())
        )

    # --- device lists ------------------------------------------------------------------

    def update_tracked_users(self, users: Iterable[str]) -> None:
        """Start tracking users we share encrypted rooms with (they are queried next)."""
        for user_id in users:
            if user_id not in self.tracked:
                self.tracked.add(user_id)
                self.outdated.add(user_id)
                self.mark("tracking", "tracked")
                self.mark("tracking", "outdated")

    def receive_device_list_changes(self, changed: Iterable[str], left: Iterable[str]) -> None:
        """Fold sync's `device_lists`: changed tracked users become outdated; left ones dropped."""
        for user_id in changed:
            if user_id in self.tracked:
                self.outdated.add(user_id)
                self.mark("tracking", "outdated")
        for user_id in left:
            if user_id != self.user_id and user_id in self.tracked:
                self.tracked.discard(user_id)
                self.outdated.discard(user_id)
                self.mark("tracking", "tracked")
                self.mark("tracking", "outdated")

    def users_to_query(self) -> list[str]:
        """Tracked users whose device lists are outdated, sorted."""
        return sorted(self.outdated & self.tracked)

    def receive_keys_query(self, response: JsonDict, queried: Iterable[str]) -> None:
        """Fold a `/keys/query` response for the users in `queried`.

        Users the server answered for are no longer outdated; users in `failures` (or simply
        missing) stay outdated and are retried.
        """
        device_keys = response.get("device_keys")
        device_keys = device_keys if isinstance(device_keys, dict) else {}
        for user_id in queried:
            devices = device_keys.get(user_id)
            if not isinstance(devices, dict):
                continue
            added, removed = self.trust.update_user(user_id, devices)
            if added or removed:
                logger.debug(
                    "device list changed user_id=%s added=%d removed=%d",
                    user_id,
                    len(added),
                    len(removed),
                )
            self.mark("devices", user_id)
            self.outdated.discard(user_id)
            self.mark("tracking", "outdated")
            self._receive_identity(user_id, response)

    def _receive_identity(self, user_id: str, response: JsonDict) -> None:
        def section(name: str) -> object:
            value = response.get(name)
            return value.get(user_id) if isinstance(value, dict) else None

        changed = self.trust.update_identity(
            user_id,
            section("master_keys"),
            section("self_signing_keys"),
            section("user_signing_keys"),
        )
        if changed:
            logger.warning("cross-signing master key changed user_id=%s", user_id)
        identity = self.trust.identities.get(user_id)
        if identity is None:
            return
        self.mark("identity", user_id)
        ours = self.cross_signing
        if (
            user_id == self.user_id
            and ours is not None
            and ours.identity().master == identity.master
        ):
            self.trust.verified_masters[user_id] = identity.master.public_key
            self.mark("trust", "verified_masters")

    # --- one-time key claims -----------------------------------------------------------

    def missing_sessions(self, devices: Iterable[Device]) -> dict[str, dict[str, str]]:
        """The `/keys/claim` map for devices we have no Olm session with."""
        claim: dict[str, dict[str, str]] = {}
        for device in devices:
            if not self.olm.has_session(device.curve25519):
                claim.setdefault(device.user_id, {})[device.device_id] = SIGNED_CURVE25519
        return claim

    def receive_keys_claim(self, response: JsonDict) -> int:
        """Create Olm sessions from claimed one-time keys whose signatures check out.

        Returns:
            How many sessions were created.
        """
        created = 0
        one_time_keys = response.get("one_time_keys")
        for user_id, devices in (one_time_keys if isinstance(one_time_keys, dict) else {}).items():
            for device_id, keys in (devices if isinstance(devices, dict) else {}).items():
                device = self.trust.device(user_id, device_id)
                if device is None or not isinstance(keys, dict):
                    continue
                for key_id, claimed in keys.items():
                    if not key_id.startswith(f"{SIGNED_CURVE25519}:") or not isinstance(
                        claimed, dict
                    ):
                        continue
                    try:
                        one_time_key = verify_one_time_key(claimed, device)
                    except SignatureInvalid as exc:
                        logger.warning(
                            "refused one-time key user_id=%s device_id=%s: %s",
                            user_id,
                            device_id,
                            exc,
                        )
                        continue
                    self.olm.create_outbound(device, one_time_key, self.clock())
                    created += 1
                    break
        return created

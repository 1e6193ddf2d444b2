"""Trust for the Olm machine: manual verification, SAS flows, cross-signing.

- Manual verification: the user compares a device's Ed25519 fingerprint out of band and marks it
  verified (`verify_device` refuses if the fingerprint given does not match the device's key).
- SAS: `m.key.verification.*` to-device messages are routed to `SasVerification` state machines
  by transaction ID. The keys to verify are fixed when the flow is accepted (responder) or made
  ready (requester): the other device's Ed25519 key and, if published, its user's master key.
  A successful flow marks exactly the keys whose MACs matched as verified.
- Cross-signing: `bootstrap_cross_signing` creates this user's master, self-signing and
  user-signing keys, self-signs this device, and trusts the new master key; keys restored from
  secret storage are trusted only if they match the published ones. With the private keys at
  hand, verified devices of ours and verified users' master keys are signed and the signatures
  queued for `/keys/signatures/upload`.
"""

from __future__ import annotations

import logging
import secrets

from core.errors import JsonDict
from sdk.crypto.errors import VerificationError
from sdk.crypto.machine.base import MachineBase, ToDeviceRequest
from sdk.crypto.protocol.cross_signing import CrossSigningSecrets
from sdk.crypto.protocol.devices import Device, DeviceTrust
from sdk.crypto.protocol.sas import SasState, SasVerification, VerificationMessage

__all__ = ["TrustMixin"]

logger = logging.getLogger(__name__)


class TrustMixin(MachineBase):
    """Verification of devices and users, and cross-signing."""

    # --- manual ------------------------------------------------------------------------

    def device_trust(self, user_id: str, device_id: str) -> DeviceTrust | None:
        """The trust level of a known device, or None if unknown."""
        device = self.trust.device(user_id, device_id)
        return self.trust.trust(device) if device is not None else None

    def verify_device(self, user_id: str, device_id: str, fingerprint: str | None = None) -> Device:
        """Mark a device verified after the user compared its fingerprint out of band.

        Args:
            fingerprint: The Ed25519 key the user read from the other device (spaces are
                ignored); when given it must match the device's key.

        Raises:
            VerificationError: Unknown device, or the fingerprint does not match.
        """
        device = self.trust.device(user_id, device_id)
        if device is None:
            raise VerificationError(f"unknown device {user_id}/{device_id}: query its keys first")
        if fingerprint is not None and "".join(fingerprint.split()) != device.ed25519:
            raise VerificationError("the fingerprint does not match the device's key")
        self.trust.verified_devices.add((user_id, device.ed25519))
        self.trust.blocked_devices.discard((user_id, device.ed25519))
        self.mark("trust", "verified_devices")
        self.mark("trust", "blocked_devices")
        self._cross_sign_device(device)
        return device

    def block_device(self, user_id: str, device_id: str) -> None:
        """Never share keys with this device again (rotates sessions shared with it)."""
        device = self.trust.device(user_id, device_id)
        if device is None:
            raise VerificationError(f"unknown device {user_id}/{device_id}")
        self.trust.blocked_devices.add((user_id, device.ed25519))
        self.trust.verified_devices.discard((user_id, device.ed25519))
        self.mark("trust", "verified_devices")
        self.mark("trust", "blocked_devices")

    # --- SAS ---------------------------------------------------------------------------

    def _our_keys(self) -> dict[str, str]:
        keys = {f"ed25519:{self.device_id}": self.account.ed25519}
        identity = self.trust.identities.get(self.user_id)
        if identity is not None and self.trust.identity_verified(self.user_id):
            keys[identity.master.key_id] = identity.master.public_key
        return keys

    def _fix_their_keys(self, sas: SasVerification) -> bool:
        device = self.trust.device(sas.their_user, str(sas.their_device))
        if device is None:
            return False
        sas.their_keys = {f"ed25519:{device.device_id}": device.ed25519}
        identity = self.trust.identities.get(sas.their_user)
        if identity is not None:
            sas.their_keys[identity.master.key_id] = identity.master.public_key
        return True

    def _send(
        self, sas: SasVerification, messages: list[VerificationMessage]
    ) -> list[ToDeviceRequest]:
        target = sas.their_device or "*"
        return [
            ToDeviceRequest(m.event_type, {sas.their_user: {target: m.content}}) for m in messages
        ]

    def start_verification(
        self, user_id: str, device_id: str | None = None
    ) -> tuple[SasVerification, ToDeviceRequest]:
        """Request a SAS verification with one device of `user_id` (all devices if None)."""
        sas = SasVerification(
            secrets.token_urlsafe(16),
            self.user_id,
            self.device_id,
            user_id,
            device_id,
            we_requested=True,
            our_keys=self._our_keys(),
        )
        self.verifications[sas.transaction_id] = sas
        return sas, self._send(sas, [sas.request_message(self.clock())])[0]

    def accept_verification(self, transaction_id: str) -> list[ToDeviceRequest]:
        """Our user accepts an incoming request (query the requester's keys first)."""
        sas = self._flow(transaction_id)
        if not self._fix_their_keys(sas):
            return self._send(sas, sas.cancel("m.key_mismatch", "the requesting device is unknown"))
        return self._send(sas, sas.accept_request())

    def confirm_verification(self, transaction_id: str) -> list[ToDeviceRequest]:
        """Our user says the emoji match."""
        sas = self._flow(transaction_id)
        return self._after(sas, sas.confirm())

    def cancel_verification(
        self, transaction_id: str, *, mismatch: bool = False
    ) -> list[ToDeviceRequest]:
        """Cancel a flow (with `m.mismatched_sas` when the emoji differed)."""
        sas = self._flow(transaction_id)
        return self._send(sas, sas.mismatch() if mismatch else sas.cancel())

    def _flow(self, transaction_id: str) -> SasVerification:
        sas = self.verifications.get(transaction_id)
        if sas is None:
            raise VerificationError(f"no verification {transaction_id}")
        return sas

    def receive_verification_event(
        self, sender: str, event_type: str, content: JsonDict
    ) -> list[ToDeviceRequest]:
        """Route an `m.key.verification.*` to-device event; returns the replies to send."""
        transaction_id = content.get("transaction_id")
        if not isinstance(transaction_id, str):
            return []
        if event_type == "m.key.verification.request":
            from_device = content.get("from_device")
            if transaction_id in self.verifications or not isinstance(from_device, str):
                return []
            incoming = SasVerification(
                transaction_id,
                self.user_id,
                self.device_id,
                sender,
                from_device,
                we_requested=False,
                our_keys=self._our_keys(),
            )
            self.verifications[transaction_id] = incoming
            if self.trust.device(sender, from_device) is None:
                self.outdated.add(sender)
            return []
        found = self.verifications.get(transaction_id)
        if found is None or found.their_user != sender:
            return []
        sas = found
        if event_type == "m.key.verification.ready" and sas.we_requested:
            from_device = content.get("from_device")
            sas.their_device = from_device if isinstance(from_device, str) else None
            if not self._fix_their_keys(sas):
                return self._send(
                    sas, sas.cancel("m.key_mismatch", "the accepting device is unknown")
                )
        return self._after(sas, sas.receive(event_type, content))

    def _after(
        self, sas: SasVerification, messages: list[VerificationMessage]
    ) -> list[ToDeviceRequest]:
        if sas.verified_keys and not sas.applied:
            self._apply_verification(sas)
        return self._send(sas, messages)

    def _apply_verification(self, sas: SasVerification) -> None:
        sas.applied = True
        for key_id, key in sas.verified_keys.items():
            if key_id == f"ed25519:{sas.their_device}":
                self.trust.verified_devices.add((sas.their_user, key))
                self.mark("trust", "verified_devices")
                device = self.trust.device(sas.their_user, str(sas.their_device))
                if device is not None:
                    self._cross_sign_device(device)
            else:
                self.trust.verified_masters[sas.their_user] = key
                self.mark("trust", "verified_masters")
                self._cross_sign_user(sas.their_user)
        logger.info(
            "verification succeeded user_id=%s device_id=%s", sas.their_user, sas.their_device
        )

    def verification_state(self, transaction_id: str) -> SasState:
        """Where a flow stands."""
        return self._flow(transaction_id).state

    # --- cross-signing -----------------------------------------------------------------

    def bootstrap_cross_signing(self) -> JsonDict:
        """Create our cross-signing keys; returns the `/keys/device_signing/upload` body.

        This device is self-signed (queued in `signature_uploads`) and the new master key is
        trusted. Upload the keys before the signatures.
        """
        secrets_ = CrossSigningSecrets.generate(self.user_id)
        self.import_cross_signing(secrets_, published=None)
        return secrets_.public_keys()

    def import_cross_signing(
        self, secrets_: CrossSigningSecrets, *, published: bool | None = True
    ) -> None:
        """Take private cross-signing keys (from bootstrap or secret storage) into use.

        Args:
            published: With True, the keys must match the identity published for our user
                (as last queried); with None the keys are new and about to be uploaded.

        Raises:
            VerificationError: The keys do not match the published identity.
        """
        identity = secrets_.identity()
        if published:
            current = self.trust.identities.get(self.user_id)
            if current is None or current.master != identity.master:
                raise VerificationError("these cross-signing keys are not the ones published")
        self.cross_signing = secrets_
        self.trust.identities[self.user_id] = identity
        self.trust.verified_masters[self.user_id] = identity.master.public_key
        self.mark("secrets", "cross_signing")
        self.mark("identity", self.user_id)
        self.mark("trust", "verified_masters")
        self._cross_sign_device(self.own_device())

    def _cross_sign_device(self, device: Device) -> None:
        if self.cross_signing is None or device.user_id != self.user_id:
            return
        identity = self.trust.identities.get(self.user_id)
        if identity is not None and identity.signed_device(device.keys):
            return
        signed = self.cross_signing.sign_device(
            {k: v for k, v in device.keys.items() if k != "unsigned"}
        )
        self.signature_uploads.append({self.user_id: {device.device_id: signed}})

    def _cross_sign_user(self, user_id: str) -> None:
        identity = self.trust.identities.get(user_id)
        if self.cross_signing is None or identity is None or user_id == self.user_id:
            return
        master = {k: v for k, v in identity.master.raw.items() if k != "unsigned"}
        signed = self.cross_signing.sign_user(master)
        self.signature_uploads.append({user_id: {identity.master.public_key: signed}})

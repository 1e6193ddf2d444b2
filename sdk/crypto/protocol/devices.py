"""Device keys of other users and trust in them (spec "Tracking the device list for a user").

`DeviceKeys` objects from `/keys/query` are accepted only if they name the user and device they
are filed under, hold both identity keys, and are signed by their own Ed25519 key. A device's
Ed25519 key is pinned the first time it is seen: a later response with a different key for the
same device ID is refused (a server cannot swap a device's identity).

Trust (`DeviceTrust`) is derived, never stored as a verdict: a device is VERIFIED if the user
verified its Ed25519 key (fingerprint comparison or SAS), or if its owner's self-signing key
signed it and the owner's master key is verified; CROSS_SIGNED if signed by an unverified
owner's self-signing key; otherwise UNVERIFIED. BLOCKED devices never receive room keys.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from core.errors import JsonDict
from sdk.crypto.errors import SignatureInvalid
from sdk.crypto.protocol.cross_signing import UserIdentity
from sdk.crypto.protocol.signing import check_signature

__all__ = ["Device", "DeviceTrust", "TrustStore", "parse_device_keys"]

logger = logging.getLogger(__name__)


class DeviceTrust(enum.Enum):
    """How far a device's keys are trusted."""

    VERIFIED = "verified"
    CROSS_SIGNED = "cross_signed"
    UNVERIFIED = "unverified"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a user, from a checked `DeviceKeys` object.

    Attributes:
        user_id: The owner.
        device_id: The device ID.
        ed25519: The device's fingerprint key (unpadded Base64).
        curve25519: The device's Olm identity key (unpadded Base64).
        display_name: From `unsigned.device_display_name`, if given (unauthenticated).
        keys: The signed `DeviceKeys` object as published.
    """

    user_id: str
    device_id: str
    ed25519: str
    curve25519: str
    display_name: str | None = None
    keys: JsonDict = field(default_factory=dict, compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        """The Ed25519 key in groups of four, for reading aloud and comparing."""
        return " ".join(self.ed25519[i : i + 4] for i in range(0, len(self.ed25519), 4))


def parse_device_keys(obj: object, user_id: str, device_id: str) -> Device:
    """Check one `DeviceKeys` object from `/keys/query` or an Olm `sender_device_keys`.

    Raises:
        SignatureInvalid: Wrong user or device ID, missing keys, or a bad self-signature.
    """
    if not isinstance(obj, dict):
        raise SignatureInvalid("device keys are not an object")
    if obj.get("user_id") != user_id or obj.get("device_id") != device_id:
        raise SignatureInvalid(f"device keys filed under {user_id}/{device_id} name another device")
    keys = obj.get("keys")
    ed25519 = keys.get(f"ed25519:{device_id}") if isinstance(keys, dict) else None
    curve25519 = keys.get(f"curve25519:{device_id}") if isinstance(keys, dict) else None
    if not isinstance(ed25519, str) or not isinstance(curve25519, str):
        raise SignatureInvalid(f"device {user_id}/{device_id} lacks identity keys")
    check_signature(obj, user_id, f"ed25519:{device_id}", ed25519)
    unsigned = obj.get("unsigned")
    name = unsigned.get("device_display_name") if isinstance(unsigned, dict) else None
    return Device(
        user_id, device_id, ed25519, curve25519, name if isinstance(name, str) else None, obj
    )


@dataclass(slots=True)
class TrustStore:
    """Known devices and identities, and what the user verified.

    Attributes:
        devices: Devices by user ID and device ID.
        identities: Checked cross-signing identities by user ID.
        verified_devices: `(user_id, ed25519)` pairs the user verified.
        verified_masters: Master public keys the user verified, by user ID.
        blocked_devices: `(user_id, ed25519)` pairs the user blocked.
    """

    devices: dict[str, dict[str, Device]] = field(default_factory=dict)
    identities: dict[str, UserIdentity] = field(default_factory=dict)
    verified_devices: set[tuple[str, str]] = field(default_factory=set)
    verified_masters: dict[str, str] = field(default_factory=dict)
    blocked_devices: set[tuple[str, str]] = field(default_factory=set)

    def device(self, user_id: str, device_id: str) -> Device | None:
        """A known device, or None."""
        return self.devices.get(user_id, {}).get(device_id)

    def device_by_curve25519(self, user_id: str, curve25519: str) -> Device | None:
        """The device of `user_id` with this Olm identity key, or None."""
        for device in self.devices.get(user_id, {}).values():
            if device.curve25519 == curve25519:
                return device
        return None

    def identity_verified(self, user_id: str) -> bool:
        """Whether the user's current master key is the one the user verified."""
        identity = self.identities.get(user_id)
        return (
            identity is not None
            and self.verified_masters.get(user_id) == identity.master.public_key
        )

    def trust(self, device: Device) -> DeviceTrust:
        """The trust level of `device` right now."""
        pinned = (device.user_id, device.ed25519)
        if pinned in self.blocked_devices:
            return DeviceTrust.BLOCKED
        if pinned in self.verified_devices:
            return DeviceTrust.VERIFIED
        identity = self.identities.get(device.user_id)
        if identity is not None and identity.signed_device(device.keys):
            if self.identity_verified(device.user_id):
                return DeviceTrust.VERIFIED
            return DeviceTrust.CROSS_SIGNED
        return DeviceTrust.UNVERIFIED

    def update_user(self, user_id: str, devices: JsonDict) -> tuple[set[str], set[str]]:
        """Replace a user's device list with a `/keys/query` `device_keys[user_id]` map.

        Devices that fail their checks, or that changed their pinned Ed25519 key, are
        dropped with a warning (the old entry is kept for a changed key).

        Returns:
            The IDs of devices that were added and that were removed.
        """
        old = self.devices.get(user_id, {})
        new: dict[str, Device] = {}
        for device_id, keys in devices.items():
            try:
                device = parse_device_keys(keys, user_id, device_id)
            except SignatureInvalid as exc:
                logger.warning(
                    "rejected device keys user_id=%s device_id=%s: %s", user_id, device_id, exc
                )
                continue
            previous = old.get(device_id)
            if previous is not None and previous.ed25519 != device.ed25519:
                logger.warning(
                    "device changed its ed25519 key user_id=%s device_id=%s", user_id, device_id
                )
                new[device_id] = previous
                continue
            new[device_id] = device
        self.devices[user_id] = new
        return set(new) - set(old), set(old) - set(new)

    def update_identity(
        self, user_id: str, master: object, self_signing: object, user_signing: object
    ) -> bool:
        """Record a user's cross-signing keys from `/keys/query`.

        Returns:
            True if the master key changed from the one known before (the caller warns).
        """
        if master is None:
            return False
        try:
            identity = UserIdentity.from_query(user_id, master, self_signing, user_signing)
        except SignatureInvalid as exc:
            logger.warning("rejected cross-signing keys user_id=%s: %s", user_id, exc)
            return False
        previous = self.identities.get(user_id)
        self.identities[user_id] = identity
        return previous is not None and previous.master.public_key != identity.master.public_key

"""This device's Olm account: identity keys, signatures, one-time and fallback keys.

The account is generated on the device the first time it logs in and its private keys never
leave it except as a vodozemac pickle encrypted with the store's pickle key. What goes to the
server is public and signed: the device keys (`/keys/upload` `device_keys`), `signed_curve25519`
one-time keys and the fallback key (with `fallback: true`), all signed with the device's Ed25519
key over canonical JSON.

Invariants: `repr` shows only public keys; one-time keys are signed before upload and marked
published only after the server accepted them.
"""

from __future__ import annotations

from typing import Final

from core.errors import JsonDict
from sdk.crypto._vodozemac import (
    Account,
    Curve25519PublicKey,
    PreKeyMessage,
    Session,
    fallback_keys,
    generate_fallback_key,
)
from sdk.crypto.protocol.signing import add_signature, signable_bytes

__all__ = ["MEGOLM_ALGORITHM", "OLM_ALGORITHM", "SIGNED_CURVE25519", "OlmAccount"]

OLM_ALGORITHM: Final = "m.olm.v1.curve25519-aes-sha2"
MEGOLM_ALGORITHM: Final = "m.megolm.v1.aes-sha2"
SIGNED_CURVE25519: Final = "signed_curve25519"


class OlmAccount:
    """A device's long-term Olm account, bound to its user and device IDs."""

    __slots__ = ("_account", "device_id", "shared", "user_id")

    def __init__(self, account: Account, user_id: str, device_id: str, *, shared: bool) -> None:
        """Wrap a vodozemac account. Use `create` or `from_pickle` instead of calling this."""
        self._account = account
        self.user_id = user_id
        self.device_id = device_id
        self.shared = shared  # whether the device keys have been uploaded

    @classmethod
    def create(cls, user_id: str, device_id: str) -> OlmAccount:
        """Generate fresh identity keys for a new device."""
        return cls(Account(), user_id, device_id, shared=False)

    @classmethod
    def from_pickle(
        cls, pickle: str, pickle_key: bytes, user_id: str, device_id: str, *, shared: bool
    ) -> OlmAccount:
        """Restore an account saved with `pickle`."""
        return cls(Account.from_pickle(pickle, pickle_key), user_id, device_id, shared=shared)

    def pickle(self, pickle_key: bytes) -> str:
        """The account encrypted with `pickle_key` (vodozemac's pickle format)."""
        return self._account.pickle(pickle_key)

    def __repr__(self) -> str:
        return f"OlmAccount(user_id={self.user_id!r}, device_id={self.device_id!r}, ed25519={self.ed25519!r})"

    @property
    def curve25519(self) -> str:
        """The device's Curve25519 identity key, unpadded Base64."""
        return self._account.curve25519_key.to_base64()

    @property
    def ed25519(self) -> str:
        """The device's Ed25519 fingerprint key, unpadded Base64."""
        return self._account.ed25519_key.to_base64()

    @property
    def max_one_time_keys(self) -> int:
        """How many one-time keys vodozemac lets the device keep unpublished at once."""
        return self._account.max_number_of_one_time_keys

    def sign(self, message: bytes) -> str:
        """Sign bytes with the device's Ed25519 key; unpadded Base64 signature."""
        return self._account.sign(message).to_base64()

    def sign_json(self, obj: JsonDict) -> JsonDict:
        """A copy of `obj` signed by this device per "Signing JSON"."""
        signature = self.sign(signable_bytes(obj))
        return add_signature(obj, self.user_id, f"ed25519:{self.device_id}", signature)

    def device_keys(self) -> JsonDict:
        """The signed `DeviceKeys` object for `/keys/upload`."""
        return self.sign_json(
            {
                "user_id": self.user_id,
                "device_id": self.device_id,
                "algorithms": [OLM_ALGORITHM, MEGOLM_ALGORITHM],
                "keys": {
                    f"curve25519:{self.device_id}": self.curve25519,
                    f"ed25519:{self.device_id}": self.ed25519,
                },
            }
        )

    def generate_one_time_keys(self, count: int) -> None:
        """Generate `count` more one-time keys (not yet published)."""
        if count > 0:
            self._account.generate_one_time_keys(count)

    def generate_fallback_key(self) -> None:
        """Generate a replacement fallback key (not yet published)."""
        generate_fallback_key(self._account)

    def _signed_key(self, key: Curve25519PublicKey, *, fallback: bool) -> JsonDict:
        body: JsonDict = {"key": key.to_base64()}
        if fallback:
            body["fallback"] = True
        return self.sign_json(body)

    def unpublished_one_time_keys(self) -> JsonDict:
        """The signed one-time keys awaiting upload, as the `one_time_keys` map."""
        return {
            f"{SIGNED_CURVE25519}:{key_id}": self._signed_key(key, fallback=False)
            for key_id, key in self._account.one_time_keys.items()
        }

    def unpublished_fallback_keys(self) -> JsonDict:
        """The signed fallback key awaiting upload, as the `fallback_keys` map."""
        return {
            f"{SIGNED_CURVE25519}:{key_id}": self._signed_key(key, fallback=True)
            for key_id, key in fallback_keys(self._account).items()
        }

    def mark_keys_as_published(self) -> None:
        """Record that the server accepted the pending one-time and fallback keys."""
        self._account.mark_keys_as_published()

    def create_outbound_session(self, their_curve25519: str, one_time_key: str) -> Session:
        """Start an Olm session to a device from its identity key and a claimed one-time key."""
        return self._account.create_outbound_session(
            Curve25519PublicKey.from_base64(their_curve25519),
            Curve25519PublicKey.from_base64(one_time_key),
        )

    def create_inbound_session(
        self, their_curve25519: str, message: PreKeyMessage
    ) -> tuple[Session, bytes]:
        """Create an Olm session from a pre-key message; consumes the one-time key it used."""
        return self._account.create_inbound_session(
            Curve25519PublicKey.from_base64(their_curve25519), message
        )

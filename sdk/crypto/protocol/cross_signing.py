"""Cross-signing keys (spec "Cross-signing"): parsing, checking, generating and signing.

Each user has a master key (MSK), a self-signing key (SSK) that signs their own devices, and a
user-signing key (USK) that signs other users' master keys. Public keys come from `/keys/query`
and are checked here: the key object must name its user and usage and hold exactly one
`ed25519:<public key>` entry, and the SSK and USK must carry a valid signature by the MSK.

Private keys are plain Ed25519 seeds (PyNaCl), never logged and hidden from `repr`; they leave
the device only encrypted, through secret storage, under the names `m.cross_signing.master`,
`m.cross_signing.self_signing` and `m.cross_signing.user_signing` (unpadded Base64 seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import nacl.signing

from core.base64 import decode_unpadded, encode_unpadded
from core.errors import JsonDict
from sdk.crypto.errors import SignatureInvalid
from sdk.crypto.protocol.signing import (
    add_signature,
    check_signature,
    has_valid_signature,
    signable_bytes,
)

__all__ = [
    "MASTER",
    "SECRET_NAMES",
    "SELF_SIGNING",
    "USER_SIGNING",
    "CrossSigningKey",
    "CrossSigningSecrets",
    "UserIdentity",
    "parse_cross_signing_key",
]

MASTER: Final = "master"
SELF_SIGNING: Final = "self_signing"
USER_SIGNING: Final = "user_signing"
SECRET_NAMES: Final = {
    MASTER: "m.cross_signing.master",
    SELF_SIGNING: "m.cross_signing.self_signing",
    USER_SIGNING: "m.cross_signing.user_signing",
}


@dataclass(frozen=True, slots=True)
class CrossSigningKey:
    """One public cross-signing key as published.

    Attributes:
        user_id: The owner.
        usage: The usage this key was parsed for (`master`, `self_signing`, `user_signing`).
        public_key: The unpadded Base64 Ed25519 public key.
        raw: The published signed object.
    """

    user_id: str
    usage: str
    public_key: str
    raw: JsonDict = field(compare=False, repr=False)

    @property
    def key_id(self) -> str:
        """`ed25519:<public key>`, the name of this key's signatures."""
        return f"ed25519:{self.public_key}"

    def signed(self, obj: JsonDict, signer: str) -> bool:
        """Whether this key signed `obj` as `signer`."""
        return has_valid_signature(obj, signer, self.key_id, self.public_key)


def parse_cross_signing_key(obj: object, user_id: str, usage: str) -> CrossSigningKey:
    """Check the shape of a published cross-signing key.

    Raises:
        SignatureInvalid: The object is malformed, for another user or usage, or has not
            exactly one Ed25519 key whose ID matches its value.
    """
    if not isinstance(obj, dict) or obj.get("user_id") != user_id:
        raise SignatureInvalid(f"{usage} key is not a key object of {user_id}")
    usages = obj.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        raise SignatureInvalid(f"key of {user_id} is not marked for {usage}")
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise SignatureInvalid(f"{usage} key of {user_id} must hold exactly one key")
    ((key_id, public_key),) = keys.items()
    if not isinstance(public_key, str) or key_id != f"ed25519:{public_key}":
        raise SignatureInvalid(f"{usage} key of {user_id} has a mismatched key ID")
    return CrossSigningKey(user_id, usage, public_key, obj)


@dataclass(frozen=True, slots=True)
class UserIdentity:
    """A user's checked cross-signing keys: SSK and USK verified against the MSK.

    Attributes:
        user_id: The owner.
        master: The master key.
        self_signing: The self-signing key, if published and signed by the master key.
        user_signing: The user-signing key (only visible for our own user).
    """

    user_id: str
    master: CrossSigningKey
    self_signing: CrossSigningKey | None = None
    user_signing: CrossSigningKey | None = None

    @classmethod
    def from_query(
        cls, user_id: str, master: object, self_signing: object, user_signing: object
    ) -> UserIdentity:
        """Build from the `master_keys`/`self_signing_keys`/`user_signing_keys` entries.

        Raises:
            SignatureInvalid: The master key is malformed, or a present SSK/USK is malformed
                or not signed by it.
        """
        msk = parse_cross_signing_key(master, user_id, MASTER)
        ssk = usk = None
        if self_signing is not None:
            ssk = parse_cross_signing_key(self_signing, user_id, SELF_SIGNING)
            check_signature(ssk.raw, user_id, msk.key_id, msk.public_key)
        if user_signing is not None:
            usk = parse_cross_signing_key(user_signing, user_id, USER_SIGNING)
            check_signature(usk.raw, user_id, msk.key_id, msk.public_key)
        return cls(user_id, msk, ssk, usk)

    def signed_device(self, device_keys: JsonDict) -> bool:
        """Whether the self-signing key signed this device's keys."""
        return self.self_signing is not None and self.self_signing.signed(device_keys, self.user_id)

    def to_json(self) -> JsonDict:
        """The published objects, for the store."""
        return {
            MASTER: self.master.raw,
            SELF_SIGNING: self.self_signing.raw if self.self_signing else None,
            USER_SIGNING: self.user_signing.raw if self.user_signing else None,
        }

    @classmethod
    def from_json(cls, user_id: str, data: JsonDict) -> UserIdentity:
        """Inverse of `to_json` (re-checks the signatures)."""
        return cls.from_query(user_id, data[MASTER], data.get(SELF_SIGNING), data.get(USER_SIGNING))


def _seed(key: nacl.signing.SigningKey) -> str:
    return encode_unpadded(bytes(key))


def _public(key: nacl.signing.SigningKey) -> str:
    return encode_unpadded(bytes(key.verify_key))


@dataclass(frozen=True, slots=True)
class CrossSigningSecrets:
    """This user's private cross-signing keys. `repr` hides them.

    Attributes:
        user_id: The owner.
        master: The master signing key.
        self_signing: The self-signing key.
        user_signing: The user-signing key.
    """

    user_id: str
    master: nacl.signing.SigningKey = field(repr=False)
    self_signing: nacl.signing.SigningKey = field(repr=False)
    user_signing: nacl.signing.SigningKey = field(repr=False)

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningSecrets:
        """Three fresh random keys."""
        new = nacl.signing.SigningKey.generate
        return cls(user_id, new(), new(), new())

    @classmethod
    def from_seeds(cls, user_id: str, seeds: dict[str, str]) -> CrossSigningSecrets:
        """Rebuild from unpadded Base64 seeds keyed by usage (as kept in secret storage).

        Raises:
            ValueError: A seed is missing or not 32 bytes of Base64.
        """
        keys = {
            usage: nacl.signing.SigningKey(decode_unpadded(seeds[usage])) for usage in SECRET_NAMES
        }
        return cls(user_id, keys[MASTER], keys[SELF_SIGNING], keys[USER_SIGNING])

    def seeds(self) -> dict[str, str]:
        """The seeds keyed by usage, unpadded Base64 — secret material, handle with care."""
        return {
            MASTER: _seed(self.master),
            SELF_SIGNING: _seed(self.self_signing),
            USER_SIGNING: _seed(self.user_signing),
        }

    def _sign_with(self, key: nacl.signing.SigningKey, obj: JsonDict) -> JsonDict:
        signature = encode_unpadded(key.sign(signable_bytes(obj)).signature)
        return add_signature(obj, self.user_id, f"ed25519:{_public(key)}", signature)

    def _key_object(self, usage: str, key: nacl.signing.SigningKey) -> JsonDict:
        public = _public(key)
        return {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}

    def public_keys(self) -> dict[str, JsonDict]:
        """The objects for `/keys/device_signing/upload` (SSK and USK signed by the MSK)."""
        return {
            "master_key": self._key_object(MASTER, self.master),
            "self_signing_key": self._sign_with(
                self.master, self._key_object(SELF_SIGNING, self.self_signing)
            ),
            "user_signing_key": self._sign_with(
                self.master, self._key_object(USER_SIGNING, self.user_signing)
            ),
        }

    def identity(self) -> UserIdentity:
        """The public identity these keys form."""
        public = self.public_keys()
        return UserIdentity.from_query(
            self.user_id,
            public["master_key"],
            public["self_signing_key"],
            public["user_signing_key"],
        )

    def sign_device(self, device_keys: JsonDict) -> JsonDict:
        """Our own device's keys signed by the self-signing key (for `/keys/signatures/upload`)."""
        if device_keys.get("user_id") != self.user_id:
            raise ValueError("the self-signing key only signs its own user's devices")
        return self._sign_with(self.self_signing, device_keys)

    def sign_user(self, master_key: JsonDict) -> JsonDict:
        """Another user's master key signed by our user-signing key."""
        return self._sign_with(self.user_signing, master_key)

    def sign_with_master(self, obj: JsonDict) -> JsonDict:
        """`obj` (e.g. backup `auth_data`) signed by the master key."""
        return self._sign_with(self.master, obj)

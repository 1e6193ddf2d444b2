"""Cross-signing (spec: "Cross-signing"): `/keys/device_signing/upload`, `/keys/signatures/upload`.

Invariants:

- Cross-signing keys are checked before anything is stored: the requester's user ID, the right
  usage, one Ed25519 key named by its public key, self-signing and user-signing keys signed by
  the accompanying (else the stored) master key, no public key equal to one of the user's
  device IDs. Replacing existing keys needs user-interactive auth (`m.login.password`);
  the first upload, or repeating the stored keys, does not (spec v1.11).
- An uploaded signature is stored only after it verifies against the signer's key: the
  requester's self-signing key on its own devices, its devices on its own master key, its
  user-signing key on another user's master key; and only on an object equal to the stored
  key. Each refused signature is reported under `failures`, the others are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.canonical_json import encode_canonical
from core.errors import (
    M_FORBIDDEN,
    M_INVALID_SIGNATURE,
    M_MISSING_PARAM,
    M_NOT_FOUND,
    JsonDict,
    MatrixError,
)
from core.identifiers import DeviceId, UserId, parse_device_id, parse_user_id
from core.signing import SignatureError, VerifyKey, signable_json, verify_json_signature
from homeserver.services.accounts.tokens import DevicesChanged
from homeserver.services.accounts.ui_auth import PASSWORD, UiAuthService
from homeserver.services.common.requester import Requester
from homeserver.services.common.signals import Signal
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_validation import (
    ED25519,
    ed25519_key,
    invalid,
    parse_cross_signing_key,
)
from homeserver.storage.accounts.devices import DeviceStore
from homeserver.storage.e2ee.cross_signing import (
    MASTER,
    SELF_SIGNING,
    USER_SIGNING,
    CrossSigningKey,
    CrossSigningStore,
    NewSignature,
)
from homeserver.storage.e2ee.keys import E2eKeyStore

_FIELDS = {MASTER: "master_key", SELF_SIGNING: "self_signing_key", USER_SIGNING: "user_signing_key"}


def _bad_signature(message: str) -> MatrixError:
    # The spec answers a bad cross-signing signature with 400, not the federation 401.
    return MatrixError(M_INVALID_SIGNATURE, message, status=400)


@dataclass(frozen=True, slots=True)
class _Target:
    """A key a signature is uploaded for: its owner, stored JSON and the keys allowed to sign it."""

    owner: UserId
    stored: JsonDict
    signers: dict[str, VerifyKey]


class CrossSigningService:
    """Uploads of cross-signing keys and of signatures."""

    def __init__(
        self,
        *,
        store: CrossSigningStore,
        e2e_keys: E2eKeyStore,
        devices: DeviceStore,
        ui_auth: UiAuthService,
        device_lists: DeviceListService,
    ) -> None:
        self._store = store
        self._e2e_keys = e2e_keys
        self._devices = devices
        self._ui_auth = ui_auth
        self._device_lists = device_lists
        # Emitted when a user's master or self-signing key, or the user's own signatures on
        # their master key, changed (federation sends `m.signing_key_update`).
        self.keys_changed: Signal[DevicesChanged] = Signal("cross_signing.keys_changed")

    async def upload_keys(self, requester: Requester, body: JsonDict, request_key: str) -> None:
        """`POST /keys/device_signing/upload`: validate, UIA when replacing keys, store."""
        user_id = requester.user_id
        stored = await self._store.get_keys(user_id)
        keys = await self._validate(user_id, body, stored)
        if not keys:
            return
        replacing = MASTER in stored and any(
            key.key_type not in stored
            or encode_canonical(stored[key.key_type].key_json) != encode_canonical(key.key_json)
            for key in keys
        )
        session = None
        if replacing:
            session = await self._ui_auth.check(
                body.get("auth"), request_key=request_key, flows=[[PASSWORD]], requester=requester
            )
        await self._store.set_keys(user_id, keys)
        if session is not None:
            await self._ui_auth.finish(session)
        await self._device_lists.notify_changed(user_id)
        if any(key.key_type != USER_SIGNING for key in keys):
            await self.keys_changed.emit(DevicesChanged(user_id))

    async def _validate(
        self, user_id: UserId, body: JsonDict, stored: dict[str, CrossSigningKey]
    ) -> list[CrossSigningKey]:
        keys: list[CrossSigningKey] = []
        master: tuple[str, VerifyKey] | None = None
        if body.get("master_key") is not None:
            master = parse_cross_signing_key(body["master_key"], user_id, MASTER)
            keys.append(CrossSigningKey(MASTER, master[0], body["master_key"]))
        elif MASTER in stored:
            master = (stored[MASTER].public_key, ed25519_key(stored[MASTER].public_key))
        for key_type in (SELF_SIGNING, USER_SIGNING):
            value = body.get(_FIELDS[key_type])
            if value is None:
                continue
            public_key, _ = parse_cross_signing_key(value, user_id, key_type)
            if master is None:
                raise MatrixError(M_MISSING_PARAM, "No master key available")
            try:
                verify_json_signature(value, user_id, f"{ED25519}:{master[0]}", master[1])
            except SignatureError as exc:
                raise _bad_signature(f"{key_type} key is not signed by the master key") from exc
            keys.append(CrossSigningKey(key_type, public_key, value))
        for key in keys:
            if await self._devices.get_device(user_id, DeviceId(key.public_key)) is not None:
                raise MatrixError(M_FORBIDDEN, "Key ID in use by a device")
        return keys

    async def upload_signatures(self, requester: Requester, body: JsonDict) -> JsonDict:
        """`POST /keys/signatures/upload`: verify and store each signature; report failures."""
        signer = requester.user_id
        own = await self._store.get_keys(signer)
        failures: JsonDict = {}
        accepted: list[NewSignature] = []
        changed: dict[UserId, UserId | None] = {}
        for user_id, objects in body.items():
            if not isinstance(objects, dict):
                raise invalid("Each user must map key IDs to signed objects")
            for key_id, signed in objects.items():
                try:
                    target = await self._target(signer, own, user_id, key_id, signed)
                    accepted += _verified(signer, key_id, signed, target)
                except MatrixError as exc:
                    failures.setdefault(user_id, {})[key_id] = {
                        "errcode": exc.errcode,
                        "error": exc.message,
                    }
                    continue
                changed[target.owner] = None if target.owner == signer else signer
        if accepted:
            await self._store.add_signatures(accepted, changed)
            for owner, observer in changed.items():
                if observer is not None:
                    self._device_lists.notify_observer(observer)
                else:
                    await self._device_lists.notify_changed(owner)
            master = own.get(MASTER)
            if master is not None and any(
                s.target_user_id == signer and s.target_key_id == master.public_key
                for s in accepted
            ):
                await self.keys_changed.emit(DevicesChanged(signer))
        return {"failures": failures}

    async def _target(
        self,
        signer: UserId,
        own: dict[str, CrossSigningKey],
        user_id: str,
        key_id: str,
        signed: object,
    ) -> _Target:
        """The stored key `signed` claims to be, and the signer's keys allowed to sign it."""
        if not isinstance(signed, dict) or signed.get("user_id") != user_id:
            raise invalid("The signed object must be a key of the user it is listed under")
        if user_id != signer:
            return await self._others_master(own, user_id, key_id)
        master = own.get(MASTER)
        if master is not None and master.public_key == key_id:
            devices = await self._e2e_keys.device_keys_of(signer, None)
            signers = {
                f"{ED25519}:{d.device_id}": ed25519_key(
                    d.keys.get("keys", {}).get(f"{ED25519}:{d.device_id}")
                )
                for d in devices
            }
            return _Target(signer, master.key_json, signers)
        try:
            device_id = parse_device_id(key_id)
        except ValueError:
            device_keys = None  # a malformed device ID names no device
        else:
            device_keys = await self._e2e_keys.get_device_keys(signer, device_id)
        if device_keys is None:
            raise MatrixError(M_NOT_FOUND, "Unknown device or key")
        return _Target(signer, device_keys, _cross_signing_signer(own, SELF_SIGNING))

    async def _others_master(
        self, own: dict[str, CrossSigningKey], user_id: str, key_id: str
    ) -> _Target:
        """Another user's master key as a target for the signer's user-signing key."""
        refused = MatrixError(M_NOT_FOUND, "Only another user's master key can be signed")
        try:
            owner = parse_user_id(user_id)
        except ValueError:
            raise refused from None  # a malformed user ID names nobody with keys
        master = (await self._store.get_keys(owner)).get(MASTER)
        if master is None or master.public_key != key_id:
            raise refused
        return _Target(owner, master.key_json, _cross_signing_signer(own, USER_SIGNING))


def _cross_signing_signer(own: dict[str, CrossSigningKey], key_type: str) -> dict[str, VerifyKey]:
    key = own.get(key_type)
    if key is None:
        raise MatrixError(M_NOT_FOUND, f"No {key_type} key has been uploaded")
    return {f"{ED25519}:{key.public_key}": ed25519_key(key.public_key)}


def _verified(signer: UserId, key_id: str, signed: JsonDict, target: _Target) -> list[NewSignature]:
    """The signer's new signatures on `signed`, each verified; `MatrixError` on any bad one."""
    if signable_json(signed) != signable_json(target.stored):
        raise invalid("The signed object does not match the stored key")
    signatures = signed.get("signatures")
    by_signer = signatures.get(signer) if isinstance(signatures, dict) else None
    if not isinstance(by_signer, dict):
        raise _bad_signature("No signature by the uploading user")
    existing = target.stored.get("signatures", {}).get(signer, {})
    fresh = {k: v for k, v in by_signer.items() if existing.get(k) != v}
    if not fresh:
        raise _bad_signature("No new signature")
    result: list[NewSignature] = []
    for signer_key_id, signature in fresh.items():
        verify_key = target.signers.get(signer_key_id)
        if verify_key is None or not isinstance(signature, str):
            raise _bad_signature(f"{signer_key_id} may not sign this key")
        try:
            verify_json_signature(signed, signer, signer_key_id, verify_key)
        except SignatureError as exc:
            raise _bad_signature("Invalid signature") from exc
        result.append(NewSignature(signer, signer_key_id, target.owner, key_id, signature))
    return result

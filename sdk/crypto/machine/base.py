"""The state of the Olm machine and its persistence (the base of `sdk.crypto.machine.olm_machine`).

`MachineBase` owns everything the sans-I/O crypto core knows: this device's account, Olm
sessions, inbound and outbound Megolm sessions, the replay log, other users' devices and
identities, what the user verified, tracked users, private cross-signing and backup keys, and
the queue of to-device messages waiting to be sent. Every mutation marks the entries it touched;
`save` writes exactly those to the `CryptoStore` in one batch.

Invariants: nothing here does network I/O; secret material is persisted only through the store
(sealed when it has a passphrase) and never logged; the account is bound to one user and device
and refuses a store that belongs to another.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Self

from core.errors import JsonDict
from sdk.crypto.errors import CryptoStoreError
from sdk.crypto.protocol.account import OlmAccount
from sdk.crypto.protocol.backup import BackupEncryptor, BackupKey
from sdk.crypto.protocol.cross_signing import CrossSigningSecrets, UserIdentity
from sdk.crypto.protocol.devices import Device, TrustStore, parse_device_keys
from sdk.crypto.protocol.megolm import InboundGroup, InboundSessions, OutboundGroup
from sdk.crypto.protocol.olm import OlmSessions
from sdk.crypto.protocol.sas import SasVerification
from sdk.crypto.store import CryptoStore, EntryKey

__all__ = ["Clock", "MachineBase", "ToDeviceRequest"]

Clock = Callable[[], int]
NAMESPACES: Final = (
    "account",
    "olm",
    "inbound",
    "outbound",
    "devices",
    "identity",
    "trust",
    "tracking",
    "replay",
    "secrets",
)


def wall_clock_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class ToDeviceRequest:
    """One `PUT /sendToDevice/{eventType}/{txnId}` to make.

    Attributes:
        event_type: The (outer) event type: `m.room.encrypted` for Olm-encrypted messages.
        messages: User ID → device ID (or `*`) → content.
        txn_id: A fresh transaction ID (retrying with it is idempotent).
    """

    event_type: str
    messages: dict[str, dict[str, JsonDict]] = field(repr=False)
    txn_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))


def _j(value: object) -> bytes:
    return json.dumps(value).encode()


class MachineBase:
    """State shared by the machine's API groups; see the module docstring."""

    def __init__(self, account: OlmAccount, clock: Clock = wall_clock_ms) -> None:
        self.account = account
        self.clock = clock
        self.olm = OlmSessions(account)
        self.inbound = InboundSessions()
        self.outbound: dict[str, OutboundGroup] = {}
        self.trust = TrustStore()
        self.tracked: set[str] = set()
        self.outdated: set[str] = set()
        self.cross_signing: CrossSigningSecrets | None = None
        self.backup_key: BackupKey | None = None
        self.backup_version: str | None = None
        self.otk_count: int | None = None
        self.fallback_needed = False
        self.outgoing: list[ToDeviceRequest] = []
        self.pending_olm: list[tuple[Device, str, JsonDict]] = []
        self.signature_uploads: list[JsonDict] = []
        self.key_requests: dict[tuple[str, str], str] = {}
        self.pending_key_requests: list[tuple[str, JsonDict]] = []
        self.backup_encryptor: BackupEncryptor | None = None
        self.verifications: dict[str, SasVerification] = {}
        self._dirty: set[EntryKey] = {("account", "account")}
        self.trust.verified_devices.add((account.user_id, account.ed25519))
        self._dirty.add(("trust", "verified_devices"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user_id={self.user_id!r}, device_id={self.device_id!r})"

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def device_id(self) -> str:
        return self.account.device_id

    def mark(self, namespace: str, key: str) -> None:
        """Record that an entry changed and must be saved."""
        self._dirty.add((namespace, key))

    def own_device(self) -> Device:
        """This device, as others see it."""
        return parse_device_keys(self.account.device_keys(), self.user_id, self.device_id)

    def devices_of(self, user_id: str) -> list[Device]:
        """Known devices of a user, this device excluded."""
        return [
            d
            for d in self.trust.devices.get(user_id, {}).values()
            if not (d.user_id == self.user_id and d.device_id == self.device_id)
        ]

    # --- loading -----------------------------------------------------------------------

    @classmethod
    async def load(
        cls, store: CryptoStore, user_id: str, device_id: str, clock: Clock = wall_clock_ms
    ) -> Self:
        """The machine saved in `store`, or a new one with fresh keys for a first login.

        Raises:
            CryptoStoreError: The store holds the account of another user or device.
        """
        entries = await store.load(NAMESPACES)
        key = store.pickle_key
        raw = entries.get(("account", "account"))
        if raw is None:
            return cls(OlmAccount.create(user_id, device_id), clock)
        data = json.loads(raw)
        if data["user_id"] != user_id or data["device_id"] != device_id:
            raise CryptoStoreError("the crypto store belongs to another user or device")
        account = OlmAccount.from_pickle(
            data["pickle"], key, user_id, device_id, shared=data["shared"]
        )
        machine = cls(account, clock)
        machine.otk_count = data.get("otk_count")
        machine._restore(entries, key)
        machine._dirty.clear()
        return machine

    def _restore(self, entries: dict[EntryKey, bytes], key: bytes) -> None:
        for (namespace, name), value in entries.items():
            if namespace == "olm":
                self.olm.load(name, value, key)
            elif namespace == "inbound":
                group = InboundGroup.from_json(value, key)
                self.inbound.groups[(group.room_id, group.session_id)] = group
            elif namespace == "outbound":
                self.outbound[name] = OutboundGroup.from_json(name, value, key)
            elif namespace == "devices":
                self.trust.devices[name] = {
                    device_id: parse_device_keys(keys, name, device_id)
                    for device_id, keys in json.loads(value).items()
                }
            elif namespace == "identity":
                self.trust.identities[name] = UserIdentity.from_json(name, json.loads(value))
            elif namespace == "replay":
                session_id, index = json.loads(name)
                event_id, ts = json.loads(value)
                self.inbound.seen[(session_id, index)] = (event_id, ts)
        self._restore_sets(entries)

    def _restore_sets(self, entries: dict[EntryKey, bytes]) -> None:
        def load(namespace: str, name: str) -> list[list[str]]:
            raw = entries.get((namespace, name))
            return json.loads(raw) if raw is not None else []

        self.trust.verified_devices.update((u, k) for u, k in load("trust", "verified_devices"))
        self.trust.blocked_devices.update((u, k) for u, k in load("trust", "blocked_devices"))
        self.trust.verified_masters.update((u, k) for u, k in load("trust", "verified_masters"))
        self.tracked.update(u for (u,) in load("tracking", "tracked"))
        self.outdated.update(u for (u,) in load("tracking", "outdated"))
        seeds = entries.get(("secrets", "cross_signing"))
        if seeds is not None:
            self.cross_signing = CrossSigningSecrets.from_seeds(self.user_id, json.loads(seeds))
        backup = entries.get(("secrets", "backup"))
        if backup is not None:
            data = json.loads(backup)
            self.backup_key = BackupKey.from_base64(data["key"])
            self.backup_version = data["version"]

    # --- saving ------------------------------------------------------------------------

    def take_changes(self, pickle_key: bytes) -> dict[EntryKey, bytes | None]:
        """Serialise every entry changed since the last call (pickles under `pickle_key`)."""
        dirty = self._dirty | {("olm", c) for c in self.olm.dirty}
        dirty |= {("inbound", json.dumps(list(k))) for k in self.inbound.dirty}
        dirty |= {("replay", json.dumps(list(k))) for k in self.inbound.dirty_seen}
        self._dirty, self.olm.dirty, self.inbound.dirty, self.inbound.dirty_seen = (
            set(),
            set(),
            set(),
            set(),
        )
        return {(ns, name): self._serialise(ns, name, pickle_key) for ns, name in dirty}

    async def save(self, store: CryptoStore) -> None:
        """Write every changed entry to `store`."""
        await store.save(self.take_changes(store.pickle_key))

    def _serialise(self, namespace: str, name: str, key: bytes) -> bytes | None:
        if namespace == "account":
            return _j(
                {
                    "user_id": self.user_id,
                    "device_id": self.device_id,
                    "pickle": self.account.pickle(key),
                    "shared": self.account.shared,
                    "otk_count": self.otk_count,
                }
            )
        if namespace == "olm":
            return self.olm.pickled(name, key)
        if namespace == "inbound":
            room_id, session_id = json.loads(name)
            group = self.inbound.groups.get((room_id, session_id))
            return group.to_json(key) if group is not None else None
        if namespace == "outbound":
            outbound = self.outbound.get(name)
            return outbound.to_json(key) if outbound is not None else None
        if namespace == "replay":
            session_id, index = json.loads(name)
            return _j(self.inbound.seen.get((session_id, index)))
        if namespace in ("devices", "identity"):
            return self._serialise_user(namespace, name)
        return self._serialise_sets(namespace, name)

    def _serialise_user(self, namespace: str, user_id: str) -> bytes | None:
        if namespace == "devices":
            devices = self.trust.devices.get(user_id)
            return _j({d: dev.keys for d, dev in devices.items()}) if devices is not None else None
        identity = self.trust.identities.get(user_id)
        return _j(identity.to_json()) if identity is not None else None

    def _serialise_sets(self, namespace: str, name: str) -> bytes | None:
        values: dict[EntryKey, object] = {
            ("trust", "verified_devices"): sorted(self.trust.verified_devices),
            ("trust", "blocked_devices"): sorted(self.trust.blocked_devices),
            ("trust", "verified_masters"): sorted(self.trust.verified_masters.items()),
            ("tracking", "tracked"): [[u] for u in sorted(self.tracked)],
            ("tracking", "outdated"): [[u] for u in sorted(self.outdated)],
        }
        if (namespace, name) in values:
            return _j(values[(namespace, name)])
        if (namespace, name) == ("secrets", "cross_signing"):
            return _j(self.cross_signing.seeds()) if self.cross_signing is not None else None
        if (namespace, name) == ("secrets", "backup"):
            if self.backup_key is None:
                return None
            return _j({"key": self.backup_key.to_base64(), "version": self.backup_version})
        raise ValueError(f"unknown crypto store entry {namespace}/{name}")

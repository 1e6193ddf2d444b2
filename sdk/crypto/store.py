"""Local persistence of the crypto state, in the SDK store's key-value table, optionally sealed.

The Olm machine keeps its state in memory and hands `CryptoStore.save` batches of changed
entries (namespace, key) → bytes, or None to delete. The bytes go to any `KeyValueBackend` —
`sdk.store.Store` (the client's aiosqlite file) in practice, `MemoryBackend` in tests — under
namespaces prefixed `crypto.`, one transaction per batch.

With a passphrase, every value is sealed with AES-256-GCM under a key derived by scrypt from the
passphrase and a random salt kept beside the data, with the entry's name as associated data (so
values cannot be swapped between entries); a check value detects a wrong passphrase
(`WrongPassphrase`). vodozemac pickles inside the values are additionally encrypted with a
`pickle_key` derived from the same secret. Without a passphrase values are plaintext JSON and
pickles use a fixed key: the file is then protected only by its permissions (0600). The local
search index (`sdk.search`) is sealed with a key derived from the same passphrase
(`index_sealer`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.base64 import decode_unpadded, encode_unpadded
from sdk.crypto.errors import CryptoStoreError, WrongPassphrase

__all__ = [
    "Changes",
    "CryptoStore",
    "EntryKey",
    "IndexSealer",
    "KeyValueBackend",
    "MemoryBackend",
]

EntryKey = tuple[str, str]
Changes = Mapping[EntryKey, bytes | None]

_PREFIX: Final = "crypto."
_META: Final = "crypto.meta"
_UNENCRYPTED_PICKLE_KEY: Final = bytes(32)
_CHECK: Final = b"tessera crypto store"
_SCRYPT_N: Final = 2**15
_NONCE_SIZE: Final = 12


class KeyValueBackend(Protocol):
    """The namespaced key-value table the crypto store writes into (`sdk.store.Store`)."""

    async def kv_items(self, namespace: str) -> dict[str, bytes]:
        """Every key and value of one namespace."""
        ...

    async def kv_save(self, changes: Mapping[tuple[str, str], bytes | None]) -> None:
        """Write a batch atomically (None deletes)."""
        ...


class MemoryBackend:
    """A key-value backend in memory: state lives as long as the object."""

    def __init__(self) -> None:
        self.entries: dict[EntryKey, bytes] = {}

    async def kv_items(self, namespace: str) -> dict[str, bytes]:
        return {key: value for (ns, key), value in self.entries.items() if ns == namespace}

    async def kv_save(self, changes: Mapping[tuple[str, str], bytes | None]) -> None:
        for entry, value in changes.items():
            if value is None:
                self.entries.pop(entry, None)
            else:
                self.entries[entry] = value


def _derive_master(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(passphrase.encode())


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def _aead_seal(aead: AESGCM, name: bytes, value: bytes) -> bytes:
    """`value` encrypted under a random nonce (stored in front), bound to `name`."""
    nonce = secrets.token_bytes(_NONCE_SIZE)
    return nonce + aead.encrypt(nonce, value, name)


def _aead_open(aead: AESGCM, name: bytes, sealed: bytes, what: str) -> bytes:
    """What `_aead_seal` sealed under `name`.

    Raises:
        CryptoStoreError: `what` does not open (altered, or sealed under another name or key).
    """
    try:
        return aead.decrypt(sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:], name)
    except InvalidTag as exc:
        raise CryptoStoreError(f"{what} does not open") from exc


class IndexSealer:
    """Seals the local search index: AES-256-GCM for stored events (bound to a name), and a
    keyed hash (HMAC-SHA-256, 80 bits in Base32) standing for each search term."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(_subkey(key, b"values"))
        self._terms = _subkey(key, b"terms")

    def __repr__(self) -> str:
        return "IndexSealer(...)"

    def seal(self, name: bytes, value: bytes) -> bytes:
        """`value` encrypted with `name` as associated data."""
        return _aead_seal(self._aead, name, value)

    def open(self, name: bytes, sealed: bytes) -> bytes:
        """What `seal` sealed under `name`.

        Raises:
            CryptoStoreError: The value was altered or sealed under another name or key.
        """
        return _aead_open(self._aead, name, sealed, "search index entry")

    def term(self, term: str) -> str:
        """The index's stand-in for a search term."""
        digest = hmac.new(self._terms, term.encode(), hashlib.sha256).digest()[:10]
        return base64.b32encode(digest).decode().lower()


def _name(entry: EntryKey) -> bytes:
    return f"{entry[0]}\0{entry[1]}".encode()


class CryptoStore:
    """The crypto layer's view of a key-value backend, sealed if a passphrase was given."""

    def __init__(
        self,
        backend: KeyValueBackend,
        aead: AESGCM | None,
        pickle_key: bytes,
        index_key: bytes | None = None,
    ) -> None:
        """Use `open` instead."""
        self._backend = backend
        self._aead = aead
        self._pickle_key = pickle_key
        self._index_key = index_key

    def __repr__(self) -> str:
        return f"CryptoStore(encrypted={self._aead is not None})"

    @property
    def pickle_key(self) -> bytes:
        """The key vodozemac pickles are encrypted with (secret)."""
        return self._pickle_key

    @property
    def encrypted(self) -> bool:
        """Whether values are sealed with a passphrase-derived key."""
        return self._aead is not None

    def index_sealer(self) -> IndexSealer | None:
        """What seals the local search index (`sdk.search`) under the same passphrase: None
        for an unsealed store."""
        return IndexSealer(self._index_key) if self._index_key is not None else None

    @classmethod
    async def open(cls, backend: KeyValueBackend, passphrase: str | None = None) -> CryptoStore:
        """Open the crypto state in `backend`, setting up sealing on first use.

        Raises:
            WrongPassphrase: The passphrase does not open this store, or a passphrase was
                given for an unsealed store (or none for a sealed one).
        """
        meta = await backend.kv_items(_META)
        if "kdf" not in meta:
            kdf: dict[str, str] = {"algorithm": "none"}
            if passphrase is not None:
                kdf = {"algorithm": "scrypt", "salt": encode_unpadded(secrets.token_bytes(16))}
            meta["kdf"] = json.dumps(kdf).encode()
            await backend.kv_save({(_META, "kdf"): meta["kdf"]})
        kdf = json.loads(meta["kdf"])
        if kdf["algorithm"] == "none":
            if passphrase is not None:
                raise WrongPassphrase("this crypto store was created without a passphrase")
            return cls(backend, None, _UNENCRYPTED_PICKLE_KEY)
        if passphrase is None:
            raise WrongPassphrase("this crypto store is encrypted: a passphrase is required")
        salt = decode_unpadded(kdf["salt"])
        master = await asyncio.to_thread(_derive_master, passphrase, salt)
        aead = AESGCM(_subkey(master, b"tessera store values"))
        store = cls(
            backend,
            aead,
            _subkey(master, b"tessera pickle key"),
            _subkey(master, b"tessera search index"),
        )
        if "check" not in meta:
            await backend.kv_save({(_META, "check"): store._seal((_META, "check"), _CHECK)})
        else:
            try:
                store._open((_META, "check"), meta["check"])
            except CryptoStoreError as exc:
                raise WrongPassphrase("wrong passphrase for the crypto store") from exc
        return store

    def _seal(self, entry: EntryKey, value: bytes) -> bytes:
        if self._aead is None:
            return value
        return _aead_seal(self._aead, _name(entry), value)

    def _open(self, entry: EntryKey, stored: bytes) -> bytes:
        if self._aead is None:
            return stored
        return _aead_open(self._aead, _name(entry), stored, f"crypto store entry in {entry[0]}")

    async def load(self, namespaces: Iterable[str]) -> dict[EntryKey, bytes]:
        """Every entry of the given (unprefixed) namespaces, opened.

        Raises:
            CryptoStoreError: An entry was tampered with.
        """
        entries: dict[EntryKey, bytes] = {}
        for namespace in namespaces:
            full = _PREFIX + namespace
            for key, stored in (await self._backend.kv_items(full)).items():
                entries[(namespace, key)] = self._open((full, key), stored)
        return entries

    async def save(self, changes: Changes) -> None:
        """Write a batch of (unprefixed namespace, key) → value or None, atomically."""
        if not changes:
            return
        batch: dict[EntryKey, bytes | None] = {}
        for (namespace, key), value in changes.items():
            entry = (_PREFIX + namespace, key)
            batch[entry] = None if value is None else self._seal(entry, value)
        await self._backend.kv_save(batch)

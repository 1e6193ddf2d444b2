"""Encryption at rest for database values: the sealed columns and the one `Sealer` of a process.

A sealed value is stored as text on both backends:

    "sealed1:" + Base64( key_id (4) | salt (12) | nonce (12) | AES-256-GCM ciphertext + tag )

The plaintext is sealed under a subkey, HMAC-SHA256(database master key, label | salt), with a
random nonce. Each `Sealer` draws a fresh random salt when it is made and again after every
`VALUES_PER_SUBKEY` values, so one subkey seals few enough values that random 96-bit nonces
never repeat in practice (the chance is about 2^-49), however many processes share the master
key and for however long, with no counter to keep anywhere. Readers keep the AES keys of recent
salts, so opening a value costs one decryption, not a key derivation. `key_id` names the master
key, so a value sealed under another key is reported as such.

Plaintexts just sealed or opened are kept in a small cache (`OPENED_CACHE_BYTES`), keyed by the
column, the row key and the stored value itself: the consumers that read each new event right
after the writer stored it, and pages of history many members read, open nothing again, and a
value moved to another row misses the cache and fails as before.

Invariants:

- The associated data binds a value to its place: the table, the column and the row's key
  (`SealedColumn.key`, for `events.json` the event ID). A sealed value copied into another row or
  column, edited, truncated, or sealed under another key does not open: the row is skipped and
  logged with its table and key (never its content), as `json_rows` skips unreadable JSON.
- Every write of a column in `SEALED_COLUMNS` goes through `Sealer.seal` or `Sealer.dump`, and
  every read through `Sealer.open`, `Sealer.load` or `Sealer.readable`: sealing happens in the
  store that owns the table, never in services.
- A value without the `sealed1:` prefix is plaintext written before encryption was switched on
  (or while it was off); it reads as it is, and the start-up pass (`reseal.py`) seals it. The
  prefix can never start a JSON text, so the two cannot be confused. The version digit leaves
  room for another format; an unknown version is skipped like a forged value.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.base64 import decode_unpadded
from homeserver.storage.database import Row
from homeserver.storage.json_rows import dump_json, load_json

logger = logging.getLogger(__name__)

__all__ = [
    "ACCOUNT_DATA",
    "BACKUP_AUTH_DATA",
    "BACKUP_SESSION_DATA",
    "CROSS_SIGNING_KEYS",
    "EVENTS_JSON",
    "OUTBOX_JSON",
    "OUTLIERS_JSON",
    "ROOM_SUMMARY_FIELDS",
    "SEALED_COLUMNS",
    "SEALED_PREFIX",
    "TO_DEVICE",
    "DatabaseKey",
    "SealedColumn",
    "Sealer",
    "parse_database_key",
]

SEALED_PREFIX: Final = "sealed1:"
_KEY_SIZE: Final = 32
_KEY_ID_SIZE: Final = 4
_SALT_SIZE: Final = 12
_NONCE_SIZE: Final = 12
_HEADER_SIZE: Final = _KEY_ID_SIZE + _SALT_SIZE + _NONCE_SIZE
_TAG_SIZE: Final = 16
_VALUE_LABEL: Final = b"tessera database value key\x00"
VALUES_PER_SUBKEY: Final = 1 << 24
_SUBKEY_CACHE: Final = 256
OPENED_CACHE_BYTES: Final = 32 * 1024 * 1024
_LARGEST_CACHED: Final = 64 * 1024
_AAD_LABEL: Final = "tessera database v1"


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column whose values are sealed, and the columns whose values name its row.

    Attributes:
        table: The table.
        column: The sealed column (text; NULL stays NULL).
        key: The columns identifying the row (its primary key); their values go into the
            associated data of each sealed value.
        scope: What the associated data names besides the key, `table.column` unless two
            columns hold the same thing (an event's JSON, in the timeline or as an outlier).
    """

    table: str
    column: str
    key: tuple[str, ...]
    scope: str = ""
    scope_id: str = field(init=False, repr=False, compare=False)
    _prefix: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scope = self.scope or f"{self.table}.{self.column}"
        object.__setattr__(self, "scope_id", scope)
        object.__setattr__(self, "_prefix", f"{_AAD_LABEL}\x00{scope}\x00".encode())

    def associated_data(self, key: Sequence[object]) -> bytes:
        """The associated data sealing the value of the row with key values `key`.

        Key values cannot hold NUL (the database refuses such text), so NUL separates them.
        """
        if len(key) != len(self.key):
            raise ValueError(f"{self.table}.{self.column} is keyed by {', '.join(self.key)}")
        return self._prefix + "\x00".join(map(str, key)).encode()


EVENTS_JSON: Final = SealedColumn("events", "json", ("event_id",), scope="event")
OUTLIERS_JSON: Final = SealedColumn("event_outliers", "json", ("event_id",), scope="event")
ACCOUNT_DATA: Final = SealedColumn("account_data", "content", ("user_id", "room_id", "data_type"))
BACKUP_AUTH_DATA: Final = SealedColumn("key_backup_versions", "auth_data", ("user_id", "version"))
BACKUP_SESSION_DATA: Final = SealedColumn(
    "key_backup_sessions", "session_data", ("user_id", "version", "room_id", "session_id")
)
TO_DEVICE: Final = SealedColumn(
    "to_device_inbox", "message_json", ("user_id", "device_id", "stream_id")
)
CROSS_SIGNING_KEYS: Final = SealedColumn(
    "e2e_cross_signing_keys", "key_json", ("user_id", "key_type")
)
OUTBOX_JSON: Final = SealedColumn("federation_outbox", "json", ("id",))
ROOM_SUMMARY_FIELDS: Final = {
    name: SealedColumn("room_summary", name, ("room_id",))
    for name in ("name", "topic", "canonical_alias", "avatar_url")
}
"""The free-text fields of the room summary (the directory's name, topic, alias, avatar)."""

SEALED_COLUMNS: Final = (
    EVENTS_JSON,
    OUTLIERS_JSON,
    ACCOUNT_DATA,
    BACKUP_AUTH_DATA,
    BACKUP_SESSION_DATA,
    TO_DEVICE,
    CROSS_SIGNING_KEYS,
    OUTBOX_JSON,
    *ROOM_SUMMARY_FIELDS.values(),
)
"""Every sealed column: what the start-up pass walks and the README lists."""


@dataclass(frozen=True, slots=True)
class DatabaseKey:
    """The database master key (hidden from `repr`) and the short ID naming it."""

    secret: bytes = field(repr=False)
    key_id: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> DatabaseKey:
        """The key record for 32 secret bytes.

        Raises:
            ValueError: Not 32 bytes.
        """
        if len(secret) != _KEY_SIZE:
            raise ValueError("the database master key must be 32 bytes")
        digest = hashlib.sha256(b"tessera database key id\x00" + secret).digest()
        return cls(secret=secret, key_id=digest[:_KEY_ID_SIZE])

    @property
    def key_id_hex(self) -> str:
        """The key ID as 8 hex digits, for messages (it reveals nothing of the key)."""
        return self.key_id.hex()


def parse_database_key(text: str) -> DatabaseKey:
    """A master key from its Base64 text (padded or not).

    Raises:
        ValueError: The text is not Base64 of exactly 32 bytes.
    """
    return DatabaseKey.from_secret(decode_unpadded(text.strip()))


class Sealer:
    """Seals and opens the values of `SEALED_COLUMNS` (see the module docstring).

    Args:
        key: The master key; None when the server has none (then sealed values cannot be
            read, and nothing is sealed).
        seal: Seal what is written (encryption at rest on); False writes plaintext while
            still opening sealed values with `key`.
    """

    __slots__ = ("_aeads", "_key", "_opened", "_salt", "_seal", "_sealed")

    def __init__(
        self, key: DatabaseKey | None, *, seal: bool = True, cache_bytes: int = OPENED_CACHE_BYTES
    ) -> None:
        self._key = key
        self._seal = seal and key is not None
        self._aeads: dict[bytes, AESGCM] = {}
        self._salt = b""
        self._sealed = VALUES_PER_SUBKEY  # a salt is drawn at the first seal
        self._opened = _Opened(cache_bytes)

    @classmethod
    def plaintext(cls) -> Sealer:
        """A sealer without a key: writes plaintext, cannot open sealed values."""
        return cls(None, seal=False)

    @property
    def seals(self) -> bool:
        """Whether written values are sealed."""
        return self._seal

    @property
    def key(self) -> DatabaseKey | None:
        """The master key, if any."""
        return self._key

    def seal(self, column: SealedColumn, key: Sequence[object], text: str) -> str:
        """The stored form of `text` in `column` of the row keyed `key`."""
        if not self._seal:
            return text
        master = self._key
        assert master is not None  # noqa: S101 (guaranteed by __init__)
        if self._sealed >= VALUES_PER_SUBKEY:
            self._salt, self._sealed = secrets.token_bytes(_SALT_SIZE), 0
        self._sealed += 1
        nonce = secrets.token_bytes(_NONCE_SIZE)
        sealed = self._aead(master, self._salt).encrypt(
            nonce, text.encode(), column.associated_data(key)
        )
        blob = master.key_id + self._salt + nonce + sealed
        stored = SEALED_PREFIX + binascii.b2a_base64(blob, newline=False).decode()
        self._opened.put((column.scope_id, *key, stored), text)
        return stored

    def open(self, column: SealedColumn, key: Sequence[object], stored: str | None) -> str | None:
        """The plaintext of a stored value, or None (logged) if it does not open."""
        if stored is None or not stored.startswith(SEALED_PREFIX):
            return stored
        cache_key = (column.scope_id, *key, stored)
        text = self._opened.get(cache_key)
        if text is not None:
            return text
        problem = self._unseal(column, key, stored)
        if isinstance(problem, bytes):
            text = problem.decode()
            self._opened.put(cache_key, text)
            return text
        logger.warning(
            "sealed row skipped table=%s column=%s key=%s problem=%s",
            column.table,
            column.column,
            "/".join(map(str, key)),
            problem,
        )
        return None

    def problem(self, column: SealedColumn, key: Sequence[object], stored: str) -> str | None:
        """What keeps a sealed value from opening (None if it opens), without logging."""
        found = self._unseal(column, key, stored)
        return found if isinstance(found, str) else None

    def _unseal(self, column: SealedColumn, key: Sequence[object], stored: str) -> str | bytes:
        """The plaintext bytes, or what keeps the value from opening."""
        if not stored.startswith(SEALED_PREFIX):
            return "not sealed"
        if self._key is None:
            return "no database master key configured"
        try:
            blob = binascii.a2b_base64(stored[len(SEALED_PREFIX) :])
        except (binascii.Error, ValueError):
            return "not Base64"
        if len(blob) < _HEADER_SIZE + _TAG_SIZE:
            return "truncated"
        if not hmac.compare_digest(blob[:_KEY_ID_SIZE], self._key.key_id):
            return f"sealed with another master key (key id {blob[:_KEY_ID_SIZE].hex()})"
        salt = blob[_KEY_ID_SIZE : _KEY_ID_SIZE + _SALT_SIZE]
        try:
            return self._aead(self._key, salt).decrypt(
                blob[_KEY_ID_SIZE + _SALT_SIZE : _HEADER_SIZE],
                blob[_HEADER_SIZE:],
                column.associated_data(key),
            )
        except InvalidTag:
            return "failed authentication (altered, or moved from another row)"

    def dump(
        self, column: SealedColumn, key: Sequence[object], value: Any, *, sort_keys: bool = False
    ) -> str:
        """`json_rows.dump_json(value)`, sealed.

        Raises:
            MatrixError: `M_BAD_JSON` if the value could not be read back and served.
        """
        return self.seal(column, key, dump_json(value, sort_keys=sort_keys))

    def load(self, column: SealedColumn, key: Sequence[object], stored: str | None) -> Any | None:
        """The decoded JSON of a stored value, or None (logged) if it does not open or read."""
        row = key[0] if len(key) == 1 else "/".join(map(str, key))
        return load_json(self.open(column, key, stored), table=column.table, key=row)

    def readable(self, rows: Iterable[Row], column: SealedColumn) -> Iterator[tuple[Row, Any]]:
        """`(row, decoded JSON)` for each row whose value opens and reads; others are skipped.

        Each row must hold `column.column` and the key columns.
        """
        for row in rows:
            value = self.load(column, [row[name] for name in column.key], row[column.column])
            if value is not None:
                yield row, value

    def _aead(self, master: DatabaseKey, salt: bytes) -> AESGCM:
        """The AES-256-GCM subkey of `salt` (the most recent ones are kept)."""
        aead = self._aeads.get(salt)
        if aead is None:
            if len(self._aeads) >= _SUBKEY_CACHE:
                del self._aeads[next(iter(self._aeads))]
            aead = AESGCM(hmac.digest(master.secret, _VALUE_LABEL + salt, "sha256"))
            self._aeads[salt] = aead
        return aead


class _Opened:
    """Plaintexts by `(scope, *row key, stored value)`, least recently used evicted first, at
    most `budget` characters in all (larger values are not kept)."""

    __slots__ = ("_budget", "_items", "_size")

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._items: OrderedDict[tuple[object, ...], str] = OrderedDict()
        self._size = 0

    def get(self, key: tuple[object, ...]) -> str | None:
        text = self._items.get(key)
        if text is not None:
            self._items.move_to_end(key)
        return text

    def put(self, key: tuple[object, ...], text: str) -> None:
        if len(text) > min(_LARGEST_CACHED, self._budget) or key in self._items:
            return
        self._items[key] = text
        self._size += len(text)
        while self._size > self._budget:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)

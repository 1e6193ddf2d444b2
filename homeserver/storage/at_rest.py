"""The database master key at start-up: loaded or created, and checked against the database.

The key is the configured one (Base64), else the key file's, created (mode 0600) on the first
start with encryption on, as the media key is. The `database_encryption` row (migration 0014)
records which key the database is sealed with, by key ID and a value sealed under it; so:

- a database sealed with one key never starts with another, or with none: the start stops with
  one line naming both key IDs (never the keys) instead of skipping every sealed row;
- a missing key file is never replaced by a new key once the database is sealed (everything
  sealed would be lost): the start stops and asks for the backup;
- an unreadable key file or one that is not 32 bytes of Base64 stops the start, naming the file.

With encryption off (`enabled: false`), new values are written in plaintext, and sealed values
still read as long as the key is there; the row then records that plaintext rows may exist, for
the start-up pass (`reseal.py`) to seal once encryption is back on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from homeserver.storage.database import Database, Row
from homeserver.storage.media.crypto import load_or_create_key_file
from homeserver.storage.sealing import DatabaseKey, SealedColumn, Sealer, parse_database_key

__all__ = ["AtRestSettings", "DatabaseKeyError", "mark_unsealed_rows", "open_sealer"]

_CHECK: Final = SealedColumn("database_encryption", "check_value", ("id",))
_CHECK_TEXT: Final = "tessera database master key check"
_ROW: Final = 1


@dataclass(frozen=True, slots=True)
class AtRestSettings:
    """How the database is sealed (from the `database_encryption` config section).

    Attributes:
        enabled: Seal what is written.
        master_key: The key as Base64 text, or None to use `key_file`.
        key_file: The key file, created on first start when `enabled` and no key is given.
    """

    enabled: bool
    key_file: Path
    master_key: str | None = field(default=None, repr=False)


class DatabaseKeyError(Exception):
    """The database master key is missing, unreadable, malformed or not the database's; the
    message says which and what to do, on one line."""


async def open_sealer(db: Database, settings: AtRestSettings | None) -> Sealer:
    """The sealer for `db` under `settings` (None: no key at all, for tools and tests that
    only open unsealed databases).

    Raises:
        DatabaseKeyError: See the module docstring.
    """
    state = await db.fetch_one(
        "SELECT key_id, check_value, unsealed_rows FROM database_encryption WHERE id = $1", _ROW
    )
    sealed_with = str(state["key_id"]) if state is not None else None
    if settings is None:
        if sealed_with is not None:
            raise DatabaseKeyError(
                f"the database is sealed with master key {sealed_with},"
                " but no database master key was given"
            )
        return Sealer.plaintext()
    key = _load_key(settings, sealed_with)
    sealer = Sealer(key, seal=settings.enabled)
    if state is not None:
        _check(sealer, state, settings)
        if not settings.enabled:
            await mark_unsealed_rows(db, True)
    elif key is not None and settings.enabled:
        await db.execute(
            "INSERT INTO database_encryption (id, key_id, check_value, unsealed_rows)"
            " VALUES ($1, $2, $3, 1) ON CONFLICT (id) DO NOTHING",
            _ROW,
            key.key_id_hex,
            sealer.seal(_CHECK, (_ROW,), _CHECK_TEXT),
        )
    return sealer


async def unsealed_rows_may_exist(db: Database) -> bool:
    """Whether plaintext rows may remain in sealed columns (see `reseal.py`)."""
    value = await db.fetch_val("SELECT unsealed_rows FROM database_encryption WHERE id = $1", _ROW)
    return bool(value)


async def mark_unsealed_rows(db: Database, present: bool) -> None:
    """Record whether plaintext rows may remain in sealed columns."""
    await db.execute(
        "UPDATE database_encryption SET unsealed_rows = $2 WHERE id = $1", _ROW, int(present)
    )


def _load_key(settings: AtRestSettings, sealed_with: str | None) -> DatabaseKey | None:
    if settings.master_key is not None:
        try:
            return parse_database_key(settings.master_key)
        except ValueError:
            raise DatabaseKeyError(
                "database_encryption.master_key is not 32 bytes in Base64"
            ) from None
    path = settings.key_file
    create = settings.enabled and sealed_with is None
    try:
        secret = load_or_create_key_file(path, create=create)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno is not None else str(exc)
        raise DatabaseKeyError(f"cannot read the database master key {path}: {reason}") from None
    except ValueError as exc:
        raise DatabaseKeyError(
            f"the database master key {path} is not 32 bytes in Base64 ({exc})"
        ) from None
    if secret is None and sealed_with is not None:
        raise DatabaseKeyError(
            f"the database master key {path} is missing, and the database is sealed with key"
            f" {sealed_with}: restore the key file from your backup"
        )
    return DatabaseKey.from_secret(secret) if secret is not None else None


def _check(sealer: Sealer, state: Row, settings: AtRestSettings) -> None:
    sealed_with = str(state["key_id"])
    key = sealer.key
    where = "database_encryption.master_key" if settings.master_key else str(settings.key_file)
    if key is None or key.key_id_hex != sealed_with:
        found = key.key_id_hex if key is not None else "none"
        raise DatabaseKeyError(
            f"the database master key {where} (key {found}) is not the key the database is"
            f" sealed with (key {sealed_with})"
        )
    if sealer.problem(_CHECK, (_ROW,), str(state["check_value"])) is not None:
        raise DatabaseKeyError(
            f"the database master key {where} does not open the database's check value"
            " (the key or the database was altered)"
        )

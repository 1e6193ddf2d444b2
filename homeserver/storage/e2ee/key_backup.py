"""Server-side key backups: versions per user and the encrypted room keys in each.

Invariants:

- Version numbers per user only grow; a deleted version stays as a tombstone so its number is
  never reused, and deleting it again succeeds.
- Keys are written only to the current (newest live) version, checked in the writing
  transaction; otherwise `WrongBackupVersion` names the current one.
- A stored session key is replaced only by a better one (the spec's order: verified first,
  then lower `first_message_index`, then lower `forwarded_count`). The comparison is part of
  the upsert statement itself, so concurrent writers cannot undo each other's better key.
- The etag changes whenever the stored keys change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import JsonDict
from core.identifiers import UserId
from homeserver.storage.database import Connection, Database
from homeserver.storage.sealing import BACKUP_AUTH_DATA, BACKUP_SESSION_DATA, Sealer


class WrongBackupVersion(Exception):
    """A write named a version that is not the current one."""

    def __init__(self, current: int | None) -> None:
        super().__init__("not the current backup version")
        self.current = current


@dataclass(frozen=True, slots=True)
class BackupVersion:
    """A live backup version with its key count."""

    version: int
    algorithm: str
    auth_data: JsonDict
    etag: int
    count: int


@dataclass(frozen=True, slots=True)
class RoomKey:
    """One backed-up Megolm session key.

    `room_id` is kept as the client sent it: the server never resolves it, so it is a label
    rather than a checked room ID.
    """

    room_id: str
    session_id: str
    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: JsonDict


_BETTER = (
    " WHERE excluded.is_verified > key_backup_sessions.is_verified"
    " OR (excluded.is_verified = key_backup_sessions.is_verified AND ("
    " excluded.first_message_index < key_backup_sessions.first_message_index"
    " OR (excluded.first_message_index = key_backup_sessions.first_message_index"
    " AND excluded.forwarded_count < key_backup_sessions.forwarded_count)))"
)


class KeyBackupStore:
    """Reads and writes `key_backup_versions` and `key_backup_sessions` (`auth_data` and
    `session_data` sealed by `sealer`)."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    async def create_version(self, user_id: UserId, algorithm: str, auth_data: JsonDict) -> int:
        """Create a new version, which becomes the current one; returns its number."""
        while True:
            async with self._db.transaction() as conn:
                highest = await conn.fetch_val(
                    "SELECT MAX(version) FROM key_backup_versions WHERE user_id = $1", user_id
                )
                version = int(highest or 0) + 1
                inserted = await conn.execute(
                    "INSERT INTO key_backup_versions (user_id, version, algorithm, auth_data, etag)"
                    " VALUES ($1, $2, $3, $4, 0) ON CONFLICT (user_id, version) DO NOTHING",
                    user_id,
                    version,
                    algorithm,
                    self._sealer.dump(BACKUP_AUTH_DATA, (user_id, version), auth_data),
                )
            if inserted:
                return version

    async def get_version(self, user_id: UserId, version: int | None) -> BackupVersion | None:
        """A live version (the current one when `version` is None), or None."""
        if version is None:
            version = await self.current_version(user_id)
            if version is None:
                return None
        row = await self._db.fetch_one(
            "SELECT algorithm, auth_data, etag FROM key_backup_versions"
            " WHERE user_id = $1 AND version = $2 AND deleted = 0",
            user_id,
            version,
        )
        if row is None:
            return None
        count = await self._db.fetch_val(
            "SELECT COUNT(*) FROM key_backup_sessions WHERE user_id = $1 AND version = $2",
            user_id,
            version,
        )
        # An unreadable auth_data reads as {}: the owner still sees the version to replace it.
        auth_data = self._sealer.load(BACKUP_AUTH_DATA, (user_id, version), row["auth_data"])
        return BackupVersion(
            version,
            row["algorithm"],
            auth_data if isinstance(auth_data, dict) else {},
            int(row["etag"]),
            int(count),
        )

    async def current_version(self, user_id: UserId) -> int | None:
        """The newest live version, or None."""
        value = await self._db.fetch_val(
            "SELECT MAX(version) FROM key_backup_versions WHERE user_id = $1 AND deleted = 0",
            user_id,
        )
        return int(value) if value is not None else None

    async def update_auth_data(self, user_id: UserId, version: int, auth_data: JsonDict) -> bool:
        """Replace a live version's `auth_data`; False if there is no such version."""
        changed = await self._db.execute(
            "UPDATE key_backup_versions SET auth_data = $3"
            " WHERE user_id = $1 AND version = $2 AND deleted = 0",
            user_id,
            version,
            self._sealer.dump(BACKUP_AUTH_DATA, (user_id, version), auth_data),
        )
        return changed > 0

    async def delete_version(self, user_id: UserId, version: int) -> bool:
        """Delete a version and its keys; False if it never existed (deleted ones succeed)."""
        async with self._db.transaction() as conn:
            found = await conn.execute(
                "UPDATE key_backup_versions SET deleted = 1 WHERE user_id = $1 AND version = $2",
                user_id,
                version,
            )
            await conn.execute(
                "DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = $2",
                user_id,
                version,
            )
        return found > 0

    async def put_keys(self, user_id: UserId, version: int, keys: Sequence[RoomKey]) -> None:
        """Store keys in the current version, keeping better stored ones.

        Raises:
            WrongBackupVersion: `version` is not the current version.
        """
        async with self._db.transaction() as conn:
            current = await conn.fetch_val(
                "SELECT MAX(version) FROM key_backup_versions WHERE user_id = $1 AND deleted = 0",
                user_id,
            )
            if current is None or int(current) != version:
                raise WrongBackupVersion(int(current) if current is not None else None)
            changed = 0
            for key in keys:
                changed += await conn.execute(
                    "INSERT INTO key_backup_sessions (user_id, version, room_id, session_id,"  # noqa: S608
                    " first_message_index, forwarded_count, is_verified, session_data)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    " ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET"
                    " first_message_index = excluded.first_message_index,"
                    " forwarded_count = excluded.forwarded_count,"
                    " is_verified = excluded.is_verified,"
                    " session_data = excluded.session_data" + _BETTER,
                    user_id,
                    version,
                    key.room_id,
                    key.session_id,
                    key.first_message_index,
                    key.forwarded_count,
                    int(key.is_verified),
                    self._sealer.dump(
                        BACKUP_SESSION_DATA,
                        (user_id, version, key.room_id, key.session_id),
                        key.session_data,
                    ),
                )
            if changed:
                await _bump_etag(conn, user_id, version)

    async def get_keys(
        self,
        user_id: UserId,
        version: int,
        room_id: str | None = None,
        session_id: str | None = None,
    ) -> list[RoomKey]:
        """Keys of a version, optionally of one room or one session."""
        where, args = _scope(user_id, version, room_id, session_id)
        rows = await self._db.fetch_all(
            "SELECT user_id, version, room_id, session_id, first_message_index,"  # noqa: S608
            f" forwarded_count, is_verified, session_data FROM key_backup_sessions WHERE {where}"
            " ORDER BY room_id, session_id",
            *args,
        )
        return [
            RoomKey(
                room_id=r["room_id"],
                session_id=r["session_id"],
                first_message_index=int(r["first_message_index"]),
                forwarded_count=int(r["forwarded_count"]),
                is_verified=bool(r["is_verified"]),
                session_data=session_data,
            )
            for r, session_data in self._sealer.readable(rows, BACKUP_SESSION_DATA)
        ]

    async def delete_keys(
        self,
        user_id: UserId,
        version: int,
        room_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        """Delete keys of a version (all, one room's, or one session's)."""
        where, args = _scope(user_id, version, room_id, session_id)
        async with self._db.transaction() as conn:
            deleted = await conn.execute(
                f"DELETE FROM key_backup_sessions WHERE {where}",  # noqa: S608
                *args,
            )
            if deleted:
                await _bump_etag(conn, user_id, version)


def _scope(
    user_id: UserId, version: int, room_id: str | None, session_id: str | None
) -> tuple[str, list[object]]:
    where = "user_id = $1 AND version = $2"
    args: list[object] = [user_id, version]
    if room_id is not None:
        where += " AND room_id = $3"
        args.append(room_id)
        if session_id is not None:
            where += " AND session_id = $4"
            args.append(session_id)
    return where, args


async def _bump_etag(conn: Connection, user_id: UserId, version: int) -> None:
    await conn.execute(
        "UPDATE key_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2",
        user_id,
        version,
    )

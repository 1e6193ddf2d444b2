"""Events from other servers outside the timeline: outliers, rejected and soft-failed events.

Invariants: a rejected event is kept only so it is not fetched and checked again; nothing reads
it as an event (`EventStore.get_events` skips it). An event is in `events` (accepted, in the
timeline) or in `event_outliers`, and an outlier that is accepted later moves to `events`
through the writer; `put_outliers` never overwrites a row, so a verdict, once stored, stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from core.events import Pdu
from core.identifiers import EventId
from homeserver.storage.database import Database
from homeserver.storage.json_rows import encode_event
from homeserver.storage.rooms.state_groups import StateIds, write_snapshot
from homeserver.storage.sealing import OUTLIERS_JSON, Sealer

__all__ = ["ACCEPTED", "OUTLIER", "REJECTED", "SOFT_FAILED", "RemoteEventStore"]

ACCEPTED: Final = "accepted"
OUTLIER: Final = "outlier"
REJECTED: Final = "rejected"
SOFT_FAILED: Final = "soft_failed"

_INSERT: Final = (
    "INSERT INTO event_outliers (event_id, room_id, status, reason, state_group, json,"
    " received_ts) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING"
)


class RemoteEventStore:
    """Reads and writes the outliers table (event JSON sealed by `sealer`)."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    def _json(self, pdu: Pdu) -> str:
        return self._sealer.seal(OUTLIERS_JSON, (pdu.event_id,), encode_event(pdu.raw))

    async def statuses(self, event_ids: Iterable[EventId]) -> dict[EventId, str]:
        """What we hold of each event: `accepted`, `outlier`, `rejected` or `soft_failed`
        (unknown ones are absent)."""
        ids = list(dict.fromkeys(event_ids))
        found: dict[EventId, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join(f"${i + 1}" for i in range(len(chunk)))
            rows = await self._db.fetch_all(
                f"SELECT event_id FROM events WHERE event_id IN ({marks})",  # noqa: S608
                *chunk,
            )
            found.update({EventId(r["event_id"]): ACCEPTED for r in rows})
            rest = [e for e in chunk if e not in found]  # the timeline's status wins
            if not rest:
                continue
            marks = ", ".join(f"${i + 1}" for i in range(len(rest)))
            rows = await self._db.fetch_all(
                f"SELECT event_id, status FROM event_outliers WHERE event_id IN ({marks})",  # noqa: S608
                *rest,
            )
            for r in rows:
                found.setdefault(EventId(r["event_id"]), str(r["status"]))
        return found

    async def put_outliers(
        self, entries: Sequence[tuple[Pdu, str, str | None]], now_ms: int
    ) -> None:
        """Store `(pdu, status, reason)` entries (`outlier` or `rejected`); rows already
        there are kept as they are."""
        if not entries:
            return
        await self._db.execute_many(
            _INSERT,
            [
                (pdu.event_id, pdu.room_id, status, reason, None, self._json(pdu), now_ms)
                for pdu, status, reason in entries
            ],
        )

    async def put_soft_failed(self, pdu: Pdu, state_after: StateIds, now_ms: int) -> None:
        """Store a soft-failed event with the state after it (later events may build on it)."""
        async with self._db.transaction() as conn:
            group = await write_snapshot(conn, pdu.room_id, state_after)
            await conn.execute(
                _INSERT,
                pdu.event_id,
                pdu.room_id,
                SOFT_FAILED,
                None,
                group,
                self._json(pdu),
                now_ms,
            )

    async def outlier_state_group(self, event_id: EventId) -> int | None:
        """The state group after a soft-failed event, if we hold one."""
        value = await self._db.fetch_val(
            "SELECT state_group FROM event_outliers WHERE event_id = $1", event_id
        )
        return int(value) if value is not None else None

"""Requests this server makes of other servers about rooms: events, missing events,
backfill, state, and the join, leave and invite handshakes (Server-Server API "Retrieving
events", "Backfilling and retrieving missing events", "Joining Rooms", "Leaving Rooms",
"Inviting to a room").

Each answer is untrusted: only its shape is checked here (lists of objects, strings); the
events in it go through the inbound checks before anything uses them. Failures are
`FederationError`s from the client, or `FederationError` for an answer of the wrong shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from core.errors import JsonDict
from core.identifiers import EventId, RoomId, UserId, parse_event_id
from federation.client import path_segment
from federation.errors import FederationError

__all__ = ["RemoteRequests", "RoomClient"]

_F1: Final = "/_matrix/federation/v1"
_F2: Final = "/_matrix/federation/v2"
QueryValue = str | int | bool | list[str]


class RoomClient(Protocol):
    """The part of the federation client room requests use."""

    async def get_json(
        self, destination: str, path: str, query: Mapping[str, QueryValue] | None = None
    ) -> JsonDict:
        """GET a JSON object."""
        ...

    async def post_json(
        self,
        destination: str,
        path: str,
        content: JsonDict,
        query: Mapping[str, QueryValue] | None = None,
    ) -> JsonDict:
        """POST a JSON object."""
        ...

    async def put_json(
        self,
        destination: str,
        path: str,
        content: JsonDict,
        query: Mapping[str, QueryValue] | None = None,
    ) -> JsonDict:
        """PUT a JSON object."""
        ...


def _objects(destination: str, answer: JsonDict, key: str) -> list[JsonDict]:
    value = answer.get(key)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FederationError(destination, f"answer has no list of objects {key!r}")
    return value


def _strings(destination: str, answer: JsonDict, key: str) -> list[str]:
    value = answer.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FederationError(destination, f"answer has no list of strings {key!r}")
    return value


def _path(*parts: str) -> str:
    return "/".join(path_segment(p) for p in parts)


class RemoteRequests:
    """Typed room requests over the federation client."""

    def __init__(self, client: RoomClient) -> None:
        self._client = client

    async def event(self, destination: str, event_id: EventId) -> JsonDict:
        """One PDU by ID (`GET /event/{eventId}`)."""
        answer = await self._client.get_json(destination, f"{_F1}/event/{_path(event_id)}")
        pdus = _objects(destination, answer, "pdus")
        if len(pdus) != 1:
            raise FederationError(destination, "event answer must hold one PDU")
        return pdus[0]

    async def missing_events(
        self,
        destination: str,
        room_id: RoomId,
        earliest: Sequence[EventId],
        latest: Sequence[EventId],
        limit: int,
    ) -> list[JsonDict]:
        """Events between `earliest` and `latest` (`POST /get_missing_events`)."""
        body: JsonDict = {
            "earliest_events": list(earliest),
            "latest_events": list(latest),
            "limit": limit,
            "min_depth": 0,
        }
        path = f"{_F1}/get_missing_events/{_path(room_id)}"
        answer = await self._client.post_json(destination, path, body)
        return _objects(destination, answer, "events")[:limit]

    async def backfill(
        self, destination: str, room_id: RoomId, from_ids: Sequence[EventId], limit: int
    ) -> list[JsonDict]:
        """Up to `limit` events at and before `from_ids` (`GET /backfill/{roomId}`)."""
        path = f"{_F1}/backfill/{_path(room_id)}"
        query: dict[str, QueryValue] = {"v": list(from_ids), "limit": limit}
        answer = await self._client.get_json(destination, path, query)
        return _objects(destination, answer, "pdus")[:limit]

    async def timestamp_to_event(
        self, destination: str, room_id: RoomId, ts: int, forwards: bool
    ) -> tuple[EventId, int]:
        """`(event_id, origin_server_ts)` of the event nearest `ts` in one direction, as the
        server sees it (`GET /timestamp_to_event/{roomId}`)."""
        path = f"{_F1}/timestamp_to_event/{_path(room_id)}"
        query: dict[str, QueryValue] = {"ts": ts, "dir": "f" if forwards else "b"}
        answer = await self._client.get_json(destination, path, query)
        event_id, found_ts = answer.get("event_id"), answer.get("origin_server_ts")
        if not isinstance(found_ts, int) or isinstance(found_ts, bool):
            raise FederationError(destination, "answer has no origin_server_ts")
        try:
            return parse_event_id(str(event_id)), found_ts
        except ValueError:
            raise FederationError(destination, "answer has no event_id") from None

    async def state_ids(
        self, destination: str, room_id: RoomId, event_id: EventId
    ) -> tuple[list[str], list[str]]:
        """`(state event IDs, auth chain IDs)` of the state before `event_id`."""
        path = f"{_F1}/state_ids/{_path(room_id)}"
        answer = await self._client.get_json(destination, path, {"event_id": event_id})
        return _strings(destination, answer, "pdu_ids"), _strings(
            destination, answer, "auth_chain_ids"
        )

    async def event_auth(
        self, destination: str, room_id: RoomId, event_id: EventId
    ) -> list[JsonDict]:
        """The auth chain of an event (`GET /event_auth`)."""
        path = f"{_F1}/event_auth/{_path(room_id, event_id)}"
        return _objects(destination, await self._client.get_json(destination, path), "auth_chain")

    async def make_membership(
        self, destination: str, kind: str, room_id: RoomId, user_id: UserId, versions: list[str]
    ) -> JsonDict:
        """The event template of `make_join`, `make_knock` or `make_leave` (`kind`)."""
        path = f"{_F1}/make_{kind}/{_path(room_id, user_id)}"
        query: dict[str, QueryValue] = {"ver": versions} if kind != "leave" else {}
        return await self._client.get_json(destination, path, query)

    async def send_membership(
        self, destination: str, kind: str, room_id: RoomId, event_id: EventId, pdu: JsonDict
    ) -> JsonDict:
        """`send_join` or `send_leave` (`kind`), version 2, or `send_knock` (version 1, the
        only one)."""
        prefix = _F1 if kind == "knock" else _F2
        path = f"{prefix}/send_{kind}/{_path(room_id, event_id)}"
        return await self._client.put_json(destination, path, pdu)

    async def invite(
        self, destination: str, room_id: RoomId, event_id: EventId, body: JsonDict
    ) -> JsonDict:
        """The invite event co-signed by the invitee's server (`PUT /v2/invite`)."""
        path = f"{_F2}/invite/{_path(room_id, event_id)}"
        answer = await self._client.put_json(destination, path, body)
        event = answer.get("event")
        if not isinstance(event, dict):
            raise FederationError(destination, "invite answer has no event")
        return event

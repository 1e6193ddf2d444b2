"""The membership handshakes other servers make with us as a resident server (Server-Server
API "Joining Rooms" and "Leaving Rooms"): `make_join`/`send_join` (v2) and
`make_leave`/`send_leave` (v2).

`make_*` builds an unsigned event template on the room's current extremities and state, after
checking that the user belongs to the asking server and that the auth rules would allow it.
`send_*` takes the signed event through the inbound pipeline (it must be accepted, else 403)
and, for a join, answers the state before it and the auth chain of that state and the event.
An accepted event is emitted on `accepted`, so the outbound feed passes it on to the room's
other servers: the joining server does not yet know them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from core.auth_base import AuthError
from core.auth_rules import auth_types_for_event, check_auth
from core.errors import (
    M_BAD_JSON,
    M_FORBIDDEN,
    M_INCOMPATIBLE_ROOM_VERSION,
    M_NOT_FOUND,
    JsonDict,
    MatrixError,
)
from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER, Membership
from core.events import Pdu
from core.hashes import check_content_hash
from core.identifiers import EventId, RoomId, ServerName, server_name_of
from core.room_versions import RoomVersion
from homeserver.clock import Clock
from homeserver.services.common.params import checked_room_id, checked_user_id
from homeserver.services.common.signals import Signal
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.outliers import auth_ids_of
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.events import EventStore
from homeserver.storage.rooms.remote_events import ACCEPTED, RemoteEventStore

__all__ = ["MembershipHandshakes", "ServedMembership", "auth_chain_of"]


@dataclass(frozen=True, slots=True)
class ServedMembership:
    """A membership event another server's user sent through us, accepted into the room."""

    origin: ServerName
    pdu: JsonDict


_KINDS: Final = {"join": Membership.JOIN, "leave": Membership.LEAVE}


async def auth_chain_of(events: EventService, start: list[EventId]) -> list[Pdu]:
    """Every event in the auth chains of `start` (not `start` itself unless reached)."""
    seen: dict[EventId, Pdu] = {}
    frontier = {a for p in await events.get_pdus(start) for a in auth_ids_of(p)}
    while frontier:
        found = await events.get_pdus([e for e in frontier if e not in seen])
        seen.update({p.event_id: p for p in found})
        frontier = {a for p in found for a in auth_ids_of(p) if a not in seen}
    return list(seen.values())


class MembershipHandshakes:
    """Serves make_join/send_join and make_leave/send_leave."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        events: EventService,
        store: EventStore,
        remote_store: RemoteEventStore,
        inbound: InboundEvents,
        verifier: PduVerifier,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._events = events
        self._store = store
        self._remote = remote_store
        self._inbound = inbound
        self._verifier = verifier
        self._clock = clock
        self.accepted: Signal[ServedMembership] = Signal("membership_served.accepted")

    async def _resident_room(self, origin: ServerName, room_id: str) -> tuple[RoomId, RoomVersion]:
        parsed = checked_room_id(room_id)
        await self._inbound.acls.check(origin, parsed)
        version = await self._inbound.room_version(parsed)
        state = await self._events.current_state(parsed) if version is not None else {}
        if version is None or (M_ROOM_CREATE, "") not in state:
            raise MatrixError(M_NOT_FOUND, "Unknown room")
        members = await self._store.room_members(parsed, Membership.JOIN)
        if not any(server_name_of(m) == self._server_name for m in members):
            raise MatrixError(M_NOT_FOUND, "This server is not in the room")
        return parsed, version

    async def make(
        self, origin: ServerName, kind: str, room_id: str, user_id: str, versions: list[str]
    ) -> JsonDict:
        """The event template of `make_join` / `make_leave`.

        Raises:
            MatrixError: 404 for a room we are not in, 400 `M_INCOMPATIBLE_ROOM_VERSION`,
                403 for a user of another server or a membership the rules refuse.
        """
        room, version = await self._resident_room(origin, room_id)
        if kind == "join" and version.identifier not in versions:
            raise MatrixError(
                M_INCOMPATIBLE_ROOM_VERSION,
                "Your server does not support this room's version",
                extra={"room_version": version.identifier},
            )
        user = checked_user_id(user_id)
        if server_name_of(user) != origin:
            raise MatrixError(M_FORBIDDEN, "The user does not belong to the requesting server")
        head = await self._events.room_head(room)
        state = await self._events.current_state(room)
        content: JsonDict = {"membership": _KINDS[kind]}
        keys = auth_types_for_event(M_ROOM_MEMBER, user, user, content, version)
        template: dict[str, Any] = {
            "room_id": room,
            "sender": user,
            "type": M_ROOM_MEMBER,
            "state_key": user,
            "content": content,
            "origin_server_ts": self._clock.time_ms(),
            "prev_events": list(head.prev_event_ids),
            "auth_events": [state[k] for k in keys if k in state],
            "depth": head.depth,
        }
        trial = Pdu(template, "$template", version)
        try:
            check_auth(trial, await self._inbound.states.pdu_map(state))
        except AuthError as exc:
            raise MatrixError(M_FORBIDDEN, f"Not allowed: {exc.message}") from None
        return {"event": template, "room_version": version.identifier}

    async def send(
        self, origin: ServerName, kind: str, room_id: str, event_id: str, raw: JsonDict | None
    ) -> JsonDict:
        """Accept a signed join or leave; for a join, the state before it and the auth chain.

        Raises:
            MatrixError: 400 `M_BAD_JSON` for an event that is not the expected membership of
                a user of `origin`, or badly signed; 403 if the room does not accept it.
        """
        room, version = await self._resident_room(origin, room_id)
        pdu = await self._checked(origin, kind, room, event_id, raw, version)
        error = await self._inbound.process(origin, pdu, fill_gaps=False)
        status = (await self._remote.statuses([pdu.event_id])).get(pdu.event_id)
        if error is not None or status != ACCEPTED:
            raise MatrixError(M_FORBIDDEN, f"The room refused the event: {error or status}")
        await self.accepted.emit(ServedMembership(origin, pdu.raw))
        if kind != "join":
            return {}
        before = await self._inbound.state_before(origin, pdu)
        state = await self._events.get_pdus(list(before.values()))
        chain = await auth_chain_of(self._events, [*before.values(), pdu.event_id])
        return {
            "origin": self._server_name,
            "state": [p.raw for p in state],
            "auth_chain": [p.raw for p in chain],
            "members_omitted": False,
            "event": pdu.raw,
        }

    async def _checked(
        self,
        origin: ServerName,
        kind: str,
        room: RoomId,
        event_id: str,
        raw: JsonDict | None,
        version: RoomVersion,
    ) -> Pdu:
        if raw is None:
            raise MatrixError(M_BAD_JSON, "Missing event")
        try:
            pdu = await self._verifier.verify(raw, version)
        except PduDropped as exc:
            raise MatrixError(M_BAD_JSON, str(exc)) from None
        if (
            pdu.event_id != event_id
            or pdu.room_id != room
            or pdu.type != M_ROOM_MEMBER
            or pdu.state_key != pdu.sender
            or pdu.membership != _KINDS[kind]
            or server_name_of(pdu.sender) != origin
            or not check_content_hash(raw)
        ):
            raise MatrixError(M_BAD_JSON, f"Not a {kind} event of a user of {origin}")
        return pdu

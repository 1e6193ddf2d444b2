"""The membership handshakes other servers make with us as a resident server (Server-Server
API "Joining Rooms", "Restricted rooms", "Knocking upon a room" and "Leaving Rooms"):
`make_join`/`send_join` (v2), `make_knock`/`send_knock` and `make_leave`/`send_leave` (v2).

Every handshake first checks the room's server ACL (403 for a denied origin). `make_*` builds
an unsigned event template on the room's current extremities and state, after checking that
the user belongs to the asking server and that the auth rules would allow it; for a join
through a restricted join rule, the template names one of our users able to invite in
`join_authorised_via_users_server` (`RestrictedJoins`). `send_*` takes the signed event
through the inbound pipeline (it must be accepted, else 403); a join naming one of our users
as its authoriser is checked against the join rules' conditions again and signed by us first.
A join is answered with the state before it, the auth chain of that state and the event (with
our signature); a knock with the room's stripped state events as full PDUs.
An accepted event is emitted on `accepted`, so the outbound feed passes it on to the room's
other servers: the joining server does not yet know them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from core.auth_base import AUTHORISED_VIA, AuthError
from core.auth_rules import auth_types_for_event, check_auth
from core.errors import (
    M_BAD_JSON,
    M_FORBIDDEN,
    M_INCOMPATIBLE_ROOM_VERSION,
    M_NOT_FOUND,
    M_UNABLE_TO_GRANT_JOIN,
    JsonDict,
    MatrixError,
)
from core.event_types import (
    M_ROOM_CREATE,
    M_ROOM_MEMBER,
    Membership,
)
from core.events import Pdu
from core.hashes import add_event_signature, check_content_hash
from core.identifiers import EventId, RoomId, ServerName, UserId, server_name_of
from core.power_levels import StateMap
from core.restricted_joins import can_authorise, join_needs_authoriser
from core.room_versions import RoomVersion
from core.signing import SigningKey
from homeserver.clock import Clock
from homeserver.services.common.params import checked_room_id, checked_user_id
from homeserver.services.common.signals import Signal
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.outliers import auth_ids_of
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier
from homeserver.services.federation.stripped_state import room_state_pdus
from homeserver.services.rooms.events import EventService
from homeserver.services.rooms.restricted_joins import RestrictedJoins
from homeserver.storage.rooms.events import EventStore
from homeserver.storage.rooms.remote_events import ACCEPTED, RemoteEventStore

__all__ = ["MembershipHandshakes", "ServedMembership", "auth_chain_of"]


@dataclass(frozen=True, slots=True)
class ServedMembership:
    """A membership event another server's user sent through us, accepted into the room."""

    origin: ServerName
    pdu: JsonDict


_KINDS: Final = {"join": Membership.JOIN, "leave": Membership.LEAVE, "knock": Membership.KNOCK}


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
    """Serves make_join/send_join, make_knock/send_knock and make_leave/send_leave."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        signing_key: SigningKey,
        events: EventService,
        store: EventStore,
        remote_store: RemoteEventStore,
        inbound: InboundEvents,
        verifier: PduVerifier,
        restricted: RestrictedJoins,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._key = signing_key
        self._restricted = restricted
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
        """The event template of `make_join` / `make_knock` / `make_leave`.

        Raises:
            MatrixError: 403 for a server the room's ACL denies, 404 for a room we are not
                in, 400 `M_INCOMPATIBLE_ROOM_VERSION`, 403 for a user of another server or a
                membership the rules refuse; for a restricted join, 403, 400
                `M_UNABLE_TO_AUTHORISE_JOIN` or 400 `M_UNABLE_TO_GRANT_JOIN`.
        """
        room, version = await self._resident_room(origin, room_id)
        supported = version.knock_join_rule if kind == "knock" else True
        if kind != "leave" and (version.identifier not in versions or not supported):
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
        pdus = await self._inbound.states.pdu_map(state)
        content: JsonDict = {"membership": _KINDS[kind]}
        if kind == "join":
            authoriser = await self._restricted.authoriser(pdus, user)
            if authoriser is not None:
                content[AUTHORISED_VIA] = authoriser
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
            check_auth(trial, pdus)
        except AuthError as exc:
            raise MatrixError(M_FORBIDDEN, f"Not allowed: {exc.message}") from None
        return {"event": template, "room_version": version.identifier}

    async def send(
        self, origin: ServerName, kind: str, room_id: str, event_id: str, raw: JsonDict | None
    ) -> JsonDict:
        """Accept a signed join, knock or leave; for a join, the state before it and the auth
        chain; for a knock, the room's stripped state.

        Raises:
            MatrixError: 400 `M_BAD_JSON` for an event that is not the expected membership of
                a user of `origin`, or badly signed; 403 if the room's ACL denies `origin` or
                the room does not accept the event; the restricted join errors of `make`.
        """
        room, version = await self._resident_room(origin, room_id)
        if raw is not None and kind == "join":
            raw = await self._vouched(raw, room, version)
        pdu = await self._checked(origin, kind, room, event_id, raw, version)
        error = await self._inbound.process(origin, pdu, fill_gaps=False)
        status = (await self._remote.statuses([pdu.event_id])).get(pdu.event_id)
        if error is not None or status != ACCEPTED:
            raise MatrixError(M_FORBIDDEN, f"The room refused the event: {error or status}")
        await self.accepted.emit(ServedMembership(origin, pdu.raw))
        if kind == "knock":
            return {"knock_room_state": await room_state_pdus(self._events, room)}
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

    async def _vouched(self, raw: JsonDict, room: RoomId, version: RoomVersion) -> JsonDict:
        """`raw` with our signature if it is a restricted join naming one of our users as its
        authoriser and the user still meets one of the join rules' conditions (unchanged if
        it names nobody of ours)."""
        content, sender = raw.get("content"), raw.get("sender")
        via = content.get(AUTHORISED_VIA) if isinstance(content, dict) else None
        if (
            not version.restricted_join_rule
            or not isinstance(via, str)
            or server_name_of(via) != self._server_name
        ):
            return raw
        if not isinstance(sender, str):
            raise MatrixError(M_BAD_JSON, "The join has no sender")
        state: StateMap = await self._inbound.states.pdu_map(await self._events.current_state(room))
        if join_needs_authoriser(state, sender):
            await self._restricted.check_conditions(state, UserId(sender))
        if not can_authorise(state, via):
            raise MatrixError(
                M_UNABLE_TO_GRANT_JOIN, f"{via} cannot authorise joins to the room", status=400
            )
        try:
            return add_event_signature(raw, self._server_name, self._key, version)
        except (ValueError, TypeError, KeyError) as exc:
            raise MatrixError(M_BAD_JSON, f"Cannot sign the join: {exc}") from None

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

"""Our users joining, knocking on and leaving rooms on other servers (Server-Server API
"Joining Rooms", "Restricted rooms", "Knocking upon a room", "Leaving Rooms", the requesting
side).

Join: `make_join` on a resident server (the `via`/`server_name` servers, then the room ID's
and the inviter's), fill in the template, sign it, `send_join` it, then check every event of
the answer (signatures, hashes, auth against its own auth events) and store the state and auth
chain as outliers; the join goes into the timeline with that state before it. A join through
a restricted join rule keeps the template's `join_authorised_via_users_server`, and the
answer's `event` must be our join with the authorising server's valid signature added: that
copy is the one kept. A server that fails is skipped for the next; if none succeeds the client
gets the refusal (403, or the restricted-join and room-version errors of the resident server)
or a 502 when no server could be reached.

Knock: `make_knock`/`send_knock` the same way; the knock is kept as the one event we hold of
the room (like a received invite), with the `knock_room_state` of the answer, each entry
checked and stripped, in its `unsigned` for `/sync`'s `knock_state`.

Leave (rejecting an invite or withdrawing a knock in a room we are not in):
`make_leave`/`send_leave`, and the leave is kept like the invite or knock was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final, Protocol

from core.auth_base import AUTHORISED_VIA, AuthError
from core.auth_rules import check_auth
from core.errors import (
    M_FORBIDDEN,
    M_INCOMPATIBLE_ROOM_VERSION,
    M_NOT_FOUND,
    M_UNABLE_TO_AUTHORISE_JOIN,
    M_UNABLE_TO_GRANT_JOIN,
    M_UNKNOWN,
    JsonDict,
    MatrixError,
)
from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER
from core.events import Pdu
from core.hashes import check_content_hash, compute_event_id
from core.identifiers import EventId, RoomAlias, RoomId, ServerName, UserId
from core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version
from federation.errors import FederationError
from homeserver.clock import Clock
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.outliers import check_own_auth
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.federation.room_state import with_event
from homeserver.services.federation.stripped_state import stripped_room_state
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.events import EventStore, RemoteState, StateIds

__all__ = ["FederatedRooms", "RemoteMembership"]

logger = logging.getLogger(__name__)

_PASSED_ON: Final = (
    M_UNABLE_TO_AUTHORISE_JOIN,
    M_UNABLE_TO_GRANT_JOIN,
    M_INCOMPATIBLE_ROOM_VERSION,
)
"""Refusals of a resident server the client is told as they are (400 each)."""


class _Refused(Exception):
    """A server refused or could not complete the handshake."""

    def __init__(self, message: str, status: int | None = None, errcode: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errcode = errcode


class RemoteMembership:
    """Joins and leaves rooms through resident servers."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        events: EventService,
        store: EventStore,
        inbound: InboundEvents,
        requests: RemoteRequests,
        verifier: PduVerifier,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._verifier = verifier
        self._events = events
        self._store = store
        self._inbound = inbound
        self._requests = requests
        self._clock = clock

    async def join(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Join `room_id` through the first of `servers` that lets us.

        Raises:
            MatrixError: 403 if a server refused, else 502 when none could be reached.
        """
        await self._handshake("join", user_id, room_id, servers, content)

    async def leave(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Leave (reject an invite to) a room we are not in, through `servers`."""
        await self._handshake("leave", user_id, room_id, servers, content)

    async def knock(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Knock on `room_id` through the first of `servers` that lets us."""
        await self._handshake("knock", user_id, room_id, servers, content)

    async def _handshake(
        self, kind: str, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        refusals: list[_Refused] = []
        for server in dict.fromkeys(s for s in servers if s != self._server_name):
            try:
                await self._through(kind, server, user_id, room_id, content)
                return
            except _Refused as exc:
                logger.info("remote %s failed server=%s reason=%s", kind, server, exc)
                refusals.append(exc)
        raise _client_error(kind, refusals)

    async def _through(
        self, kind: str, server: str, user_id: UserId, room_id: RoomId, content: JsonDict
    ) -> None:
        versions = list(KNOWN_ROOM_VERSIONS)
        try:
            template = await self._requests.make_membership(
                server, kind, room_id, user_id, versions
            )
            version, pdu = self._fill(template, kind, user_id, room_id, content)
            answer = await self._requests.send_membership(
                server, kind, room_id, pdu.event_id, pdu.raw
            )
        except FederationError as exc:
            raise _Refused(f"{exc.status}: {exc.message}", exc.status, exc.errcode) from None
        if kind == "join":
            await self._take_join(pdu, answer, version)
        elif kind == "knock":
            await self._keep_knock(pdu, answer, version)
        else:
            await self._keep_outside(pdu)

    def _fill(
        self, template: JsonDict, kind: str, user_id: UserId, room_id: RoomId, content: JsonDict
    ) -> tuple[RoomVersion, Pdu]:
        version = get_room_version(str(template.get("room_version", "10")))
        event = template.get("event")
        if version is None or not isinstance(event, dict):
            raise _Refused("unsupported room version or no template")
        filled = {**content, "membership": kind}
        template_content = event.get("content")
        via = template_content.get(AUTHORISED_VIA) if isinstance(template_content, dict) else None
        if kind == "join" and version.restricted_join_rule and isinstance(via, str):
            filled[AUTHORISED_VIA] = via
        raw: dict[str, Any] = {
            "room_id": room_id,
            "sender": user_id,
            "type": M_ROOM_MEMBER,
            "state_key": user_id,
            "content": filled,
            "origin_server_ts": self._clock.time_ms(),
            "prev_events": event.get("prev_events"),
            "auth_events": event.get("auth_events"),
            "depth": event.get("depth"),
        }
        return version, self._events.sign(raw, version)

    async def _take_join(self, pdu: Pdu, answer: JsonDict, version: RoomVersion) -> None:
        state_raws = answer.get("state")
        chain_raws = answer.get("auth_chain")
        if not isinstance(state_raws, list) or not isinstance(chain_raws, list):
            raise _Refused("send_join answer without state or auth_chain")
        if AUTHORISED_VIA in pdu.content:
            pdu = await self._vouched_join(pdu, answer.get("event"))
        raws = [r for r in [*chain_raws, *state_raws] if isinstance(r, dict)]
        create = next((r for r in raws if r.get("type") == M_ROOM_CREATE), None)
        if create is None:
            raise _Refused("send_join answer without a create event")
        if await self._store.room_version(pdu.room_id) is None:
            await self._store.create_room(
                pdu.room_id,
                version.identifier,
                create.get("sender", ""),
                False,
                self._clock.time_ms(),
            )
        accepted = await self._inbound.outliers.accept(raws, version)
        state: StateIds = {}
        for raw in state_raws:
            found = accepted.get(EventId(_event_id(raw, version)))
            pair = found.state_pair() if found is not None else None
            if found is not None and pair is not None:
                state[pair] = found.event_id
        await self._append_join(pdu, state, accepted)

    async def _append_join(self, pdu: Pdu, state: StateIds, known: dict[EventId, Pdu]) -> None:
        reason = check_own_auth(pdu, known)
        try:
            if reason is not None:
                raise AuthError(reason)
            # The state came with the answer: its events are at hand, checked and stored.
            keyed = {key: known[e] for key, e in state.items() if e in known}
            if len(keyed) < len(state):
                keyed = await self._inbound.states.pdu_map(state)
            check_auth(pdu, keyed)
        except AuthError as exc:
            raise _Refused(f"our join fails the room's rules: {exc.message}") from None
        async with self._events.room_lock(pdu.room_id):
            current = await self._events.current_state(pdu.room_id)
            after = with_event(state, pdu)
            remote = await self._inbound.remote_state(pdu, state, after, current, None, known)
            await self._events.persist_remote(pdu, remote)

    async def _vouched_join(self, pdu: Pdu, signed: object) -> Pdu:
        """Our restricted join as the resident server answered it: the same event, with the
        authorising server's valid signature added."""
        if not isinstance(signed, dict):
            raise _Refused("the answer to a restricted join has no signed event")
        try:
            checked = await self._verifier.verify(signed, pdu.room_version)
        except PduDropped as exc:
            raise _Refused(f"the signed join is not valid: {exc}") from None
        if checked.event_id != pdu.event_id or not check_content_hash(signed):
            raise _Refused("the signed join is not our join")
        return checked

    async def _keep_knock(self, pdu: Pdu, answer: JsonDict, version: RoomVersion) -> None:
        """Keep our knock with the room's state as the resident server told it."""
        raws = answer.get("knock_room_state")
        stripped = await stripped_room_state(raws, pdu.room_id, version, self._verifier)
        if await self._store.room_version(pdu.room_id) is None:
            create = next((e for e in stripped if e["type"] == M_ROOM_CREATE), None)
            creator = UserId(create["sender"]) if create is not None else pdu.sender
            await self._store.create_room(
                pdu.room_id, version.identifier, creator, False, self._clock.time_ms()
            )
        unsigned = {**pdu.unsigned, "knock_room_state": stripped}
        await self._keep_outside(Pdu({**pdu.raw, "unsigned": unsigned}, pdu.event_id, version))

    async def _keep_outside(self, pdu: Pdu) -> None:
        async with self._events.room_lock(pdu.room_id):
            await self._events.persist_remote(
                pdu, RemoteState(before={}, changed=[pdu], extremity=False)
            )


def _client_error(kind: str, refusals: list[_Refused]) -> MatrixError:
    """What the client is told when no server let us `kind` the room."""
    forbidden = [r for r in refusals if r.status == 403]
    if forbidden:
        return MatrixError(M_FORBIDDEN, f"No server let us {kind} the room: {forbidden[-1]}")
    passed = [r for r in refusals if r.status == 400 and r.errcode in _PASSED_ON]
    if passed:
        return MatrixError(str(passed[-1].errcode), str(passed[-1]), status=400)
    if refusals and all(r.status == 404 for r in refusals):
        return MatrixError(M_NOT_FOUND, f"No server knows the room to {kind}")
    return MatrixError(M_UNKNOWN, f"Could not {kind} the room through any server", status=502)


def _event_id(raw: JsonDict, version: RoomVersion) -> str:
    try:
        return compute_event_id(raw, version)
    except (ValueError, TypeError):
        return ""


class AliasQueries(Protocol):
    """Remote alias lookups (`RemoteQueries`)."""

    async def query_alias(self, alias: RoomAlias) -> JsonDict:
        """`{"room_id", "servers"}` of a remote alias."""
        ...


class Cosigner(Protocol):
    """Gets an invite of a remote user signed by their server (`Invites`)."""

    async def cosign(self, pdu: Pdu) -> Pdu:
        """The co-signed invite."""
        ...


class FederatedRooms:
    """The rooms domain's `RemoteRooms` port, on federation."""

    def __init__(
        self, membership: RemoteMembership, invites: Cosigner, aliases: AliasQueries
    ) -> None:
        self._membership = membership
        self._invites = invites
        self._aliases = aliases

    async def join(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Join through the first of `servers` that lets us."""
        await self._membership.join(user_id, room_id, servers, content)

    async def leave(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Leave a room we are not in through `servers`."""
        await self._membership.leave(user_id, room_id, servers, content)

    async def knock(
        self, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        """Knock on a room we are not in through the first of `servers` that lets us."""
        await self._membership.knock(user_id, room_id, servers, content)

    async def cosign(self, pdu: Pdu) -> Pdu:
        """An invite of a remote user, signed by their server."""
        return await self._invites.cosign(pdu)

    async def resolve_alias(self, alias: RoomAlias) -> tuple[RoomId, list[str]]:
        """A remote alias's room ID and servers."""
        answer = await self._aliases.query_alias(alias)
        servers = answer.get("servers")
        return RoomId(str(answer["room_id"])), [s for s in servers or [] if isinstance(s, str)]

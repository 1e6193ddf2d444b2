"""Our users joining and leaving rooms on other servers (Server-Server API "Joining Rooms",
"Leaving Rooms", the requesting side).

Join: `make_join` on a resident server (the `via`/`server_name` servers, then the room ID's
and the inviter's), fill in the template, sign it, `send_join` it, then check every event of
the answer (signatures, hashes, auth against its own auth events) and store the state and auth
chain as outliers; the join goes into the timeline with that state before it. A server that
fails is skipped for the next; if none succeeds the client gets a 502 (or the last refusal).

Leave (rejecting an invite to a room we are not in): `make_leave`/`send_leave` on the
inviter's server, and the leave is kept like the invite was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from core.auth_base import AuthError
from core.auth_rules import check_auth
from core.errors import M_FORBIDDEN, M_UNKNOWN, JsonDict, MatrixError
from core.event_types import M_ROOM_CREATE, M_ROOM_MEMBER
from core.events import Pdu
from core.hashes import compute_event_id
from core.identifiers import EventId, RoomAlias, RoomId, ServerName, UserId
from core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion, get_room_version
from federation.errors import FederationError
from homeserver.clock import Clock
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.outliers import check_own_auth
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.federation.room_state import with_event
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.events import EventStore, RemoteState, StateIds

__all__ = ["FederatedRooms", "RemoteMembership"]

logger = logging.getLogger(__name__)


class _Refused(Exception):
    """A server refused or could not complete the handshake."""


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
        clock: Clock,
    ) -> None:
        self._server_name = server_name
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

    async def _handshake(
        self, kind: str, user_id: UserId, room_id: RoomId, servers: Sequence[str], content: JsonDict
    ) -> None:
        refused: str | None = None
        for server in dict.fromkeys(s for s in servers if s != self._server_name):
            try:
                await self._through(kind, server, user_id, room_id, content)
                return
            except _Refused as exc:
                logger.info("remote %s failed server=%s reason=%s", kind, server, exc)
                refused = str(exc)
        if refused is not None and "403" in refused:
            raise MatrixError(M_FORBIDDEN, f"No server let us {kind} the room: {refused}")
        raise MatrixError(M_UNKNOWN, f"Could not {kind} the room through any server", status=502)

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
            raise _Refused(f"{exc.status}: {exc.message}") from None
        if kind == "join":
            await self._take_join(pdu, answer, version)
        else:
            await self._keep_outside(pdu)

    def _fill(
        self, template: JsonDict, kind: str, user_id: UserId, room_id: RoomId, content: JsonDict
    ) -> tuple[RoomVersion, Pdu]:
        version = get_room_version(str(template.get("room_version", "10")))
        event = template.get("event")
        if version is None or not isinstance(event, dict):
            raise _Refused("unsupported room version or no template")
        raw: dict[str, Any] = {
            "room_id": room_id,
            "sender": user_id,
            "type": M_ROOM_MEMBER,
            "state_key": user_id,
            "content": {**content, "membership": kind},
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
            check_auth(pdu, await self._inbound.states.pdu_map(state))
        except AuthError as exc:
            raise _Refused(f"our join fails the room's rules: {exc.message}") from None
        async with self._events.room_lock(pdu.room_id):
            current = await self._events.current_state(pdu.room_id)
            after = with_event(state, pdu)
            remote = await self._inbound.remote_state(pdu, state, after, current, None)
            await self._events.persist_remote(pdu, remote)

    async def _keep_outside(self, pdu: Pdu) -> None:
        async with self._events.room_lock(pdu.room_id):
            await self._events.persist_remote(
                pdu, RemoteState(before={}, changed=[pdu], extremity=False)
            )


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

    async def cosign(self, pdu: Pdu) -> Pdu:
        """An invite of a remote user, signed by their server."""
        return await self._invites.cosign(pdu)

    async def resolve_alias(self, alias: RoomAlias) -> tuple[RoomId, list[str]]:
        """A remote alias's room ID and servers."""
        answer = await self._aliases.query_alias(alias)
        servers = answer.get("servers")
        return RoomId(str(answer["room_id"])), [s for s in servers or [] if isinstance(s, str)]

"""Invites across servers (Server-Server API "Inviting to a room", `PUT /v2/invite`).

Inbound: another server invites one of our users. The event must be a well-formed, validly
signed invite of a local user by a user of the asking server; we add our signature and answer
it. In a room we are in, it then goes through the inbound pipeline like any event; in a room
we are not in, it is stored as the one event we hold of that room (no forward extremity), with
the `invite_room_state` the inviter sent, checked and stripped (`stripped_state`), kept in its
`unsigned`, which `/sync` shows as the invite's stripped state.

Outbound: a local user invites a remote user; the invite is sent to the invitee's server for
its signature before we persist it (`cosign`), with a few state events of the room, the create
event among them, as full PDUs (MSC4311).
"""

from __future__ import annotations

from core.errors import (
    M_BAD_JSON,
    M_FORBIDDEN,
    M_INCOMPATIBLE_ROOM_VERSION,
    M_UNKNOWN,
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
from core.identifiers import ServerName, server_name_of
from core.room_versions import get_room_version
from core.signing import SigningKey
from federation.errors import FederationError
from homeserver.services.federation.inbound_events import InboundEvents
from homeserver.services.federation.pdu_checks import PduDropped, PduVerifier
from homeserver.services.federation.remote_requests import RemoteRequests
from homeserver.services.federation.stripped_state import room_state_pdus, stripped_room_state
from homeserver.services.rooms.events import EventService
from homeserver.storage.rooms.events import EventStore, RemoteState

__all__ = ["Invites"]


class Invites:
    """Receives invites for our users and sends invites to remote users."""

    def __init__(
        self,
        *,
        server_name: ServerName,
        signing_key: SigningKey,
        events: EventService,
        store: EventStore,
        inbound: InboundEvents,
        verifier: PduVerifier,
        requests: RemoteRequests | None,
    ) -> None:
        self._server_name = server_name
        self._key = signing_key
        self._events = events
        self._store = store
        self._inbound = inbound
        self._verifier = verifier
        self._requests = requests

    async def receive(
        self, origin: ServerName, room_id: str, event_id: str, body: JsonDict | None
    ) -> JsonDict:
        """Sign and keep an invite of a local user; answers `{"event": signed}`.

        Raises:
            MatrixError: 403 `M_FORBIDDEN` when the server ACL of a room we are in denies
                `origin`, 400 `M_INCOMPATIBLE_ROOM_VERSION` for a version we do not support,
                400 `M_BAD_JSON` for anything but a valid invite of a local user by a user
                of `origin`.
        """
        await self._inbound.acls.check(origin, room_id)
        body = body or {}
        version = get_room_version(str(body.get("room_version", "")))
        if version is None:
            raise MatrixError(
                M_INCOMPATIBLE_ROOM_VERSION, "Room version not supported by this server"
            )
        raw = body.get("event")
        if not isinstance(raw, dict):
            raise MatrixError(M_BAD_JSON, "Missing event")
        try:
            pdu = await self._verifier.verify(raw, version)
        except PduDropped as exc:
            raise MatrixError(M_BAD_JSON, str(exc)) from None
        target = pdu.state_key or ""
        if (
            pdu.event_id != event_id
            or pdu.room_id != room_id
            or pdu.type != M_ROOM_MEMBER
            or pdu.membership != Membership.INVITE
            or server_name_of(target) != self._server_name
            or server_name_of(pdu.sender) != origin
            or not check_content_hash(raw)
        ):
            raise MatrixError(M_BAD_JSON, "Not an invite of a local user by a user of yours")
        signed = add_event_signature(raw, self._server_name, self._key, version)
        stripped = await stripped_room_state(
            body.get("invite_room_state"), pdu.room_id, version, self._verifier
        )
        kept = {**signed, "unsigned": {**pdu.unsigned, "invite_room_state": stripped}}
        await self._keep(origin, Pdu(kept, pdu.event_id, version))
        return {"event": signed}

    async def _keep(self, origin: ServerName, pdu: Pdu) -> None:
        held = await self._inbound.room_version(pdu.room_id)
        state = await self._events.current_state(pdu.room_id) if held is not None else {}
        if (M_ROOM_CREATE, "") in state:
            error = await self._inbound.process(origin, pdu, fill_gaps=True)
            if error is not None:
                raise MatrixError(M_FORBIDDEN, f"The invite was refused: {error}")
            return
        if held is None:
            await self._store.create_room(
                pdu.room_id, pdu.room_version.identifier, pdu.sender, False, pdu.origin_server_ts
            )
        async with self._events.room_lock(pdu.room_id):
            await self._events.persist_remote(
                pdu, RemoteState(before={}, changed=[pdu], extremity=False)
            )

    async def cosign(self, pdu: Pdu) -> Pdu:
        """The invite of a remote user with their server's signature (sent to it first).

        Raises:
            MatrixError: 502 when the server cannot be asked or answers a wrong event,
                403 when it refuses.
        """
        server = server_name_of(pdu.state_key or "")
        if self._requests is None:
            raise MatrixError(M_FORBIDDEN, "Federation is disabled on this server")
        body: JsonDict = {
            "event": pdu.raw,
            "room_version": pdu.room_version.identifier,
            "invite_room_state": await room_state_pdus(self._events, pdu.room_id),
        }
        try:
            answer = await self._requests.invite(server, pdu.room_id, pdu.event_id, body)
        except FederationError as exc:
            if exc.status is not None and exc.status < 500:
                raise MatrixError(M_FORBIDDEN, f"{server} refused the invite") from None
            raise MatrixError(M_UNKNOWN, f"Could not reach {server}", status=502) from None
        try:
            signed = await self._verifier.verify(answer, pdu.room_version)
            await self._verifier.check_signed_by(signed, server)
        except PduDropped:
            raise MatrixError(M_UNKNOWN, f"{server} answered a bad invite", status=502) from None
        if signed.event_id != pdu.event_id or not check_content_hash(answer):
            raise MatrixError(M_UNKNOWN, f"{server} answered another event", status=502)
        return signed

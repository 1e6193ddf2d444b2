"""The first checks on a PDU from another server (Server-Server API "Checks performed on
receipt of a PDU", steps 1 to 3): format and size, signatures, content hash.

A PDU that fails the format or the signature check is dropped (`PduDropped`): it is not
stored at all, since nothing can be said about it. A PDU whose content hash does not match is
kept in its redacted form, as the spec says, and goes on to the auth checks like that.

Signatures required: the sender's server's, and for a join through a restricted join rule
the server of the user named in `join_authorised_via_users_server`. Keys must be valid at the
event's `origin_server_ts`.
"""

from __future__ import annotations

from typing import Protocol

from core.auth_base import AUTHORISED_VIA
from core.errors import JsonDict, MatrixError
from core.event_format import check_pdu_format
from core.event_types import M_ROOM_MEMBER, Membership
from core.events import Pdu
from core.hashes import check_content_hash, compute_event_id
from core.identifiers import ServerName, server_name_of
from core.redaction import redact
from core.room_versions import RoomVersion
from core.signing import SignatureError

__all__ = ["PduDropped", "PduVerifier", "SignatureVerifier", "event_id_of"]


class PduDropped(Exception):
    """The PDU is malformed or badly signed: it is neither processed nor stored."""


class SignatureVerifier(Protocol):
    """The keyring's signature check."""

    async def verify_json_for_server(
        self, server_name: ServerName, obj: JsonDict, at_ts: int
    ) -> None:
        """Raise `SignatureError` unless `server_name` validly signed `obj` at `at_ts`."""
        ...


def event_id_of(raw: JsonDict, version: RoomVersion) -> str:
    """The event ID of a raw PDU.

    Raises:
        PduDropped: If no event ID can be computed (not canonical-JSON encodable).
    """
    try:
        return compute_event_id(raw, version)
    except (ValueError, TypeError) as exc:
        raise PduDropped(f"no event ID: {exc}") from None


class PduVerifier:
    """Format, signature and hash checks of remote PDUs."""

    def __init__(self, keyring: SignatureVerifier | None) -> None:
        """Check signatures with `keyring` (None when federation is off: nothing passes)."""
        self._keyring = keyring

    async def verify(
        self, raw: JsonDict, version: RoomVersion, *, graph_limits: bool = True
    ) -> Pdu:
        """The checked PDU (redacted if its content hash does not match); `graph_limits`
        False for `/backfill` answers, which the spec exempts from the limits on
        `prev_events` and `auth_events`.

        Raises:
            PduDropped: For a malformed or oversized PDU or a missing or bad signature.
        """
        try:
            check_pdu_format(raw, version, graph_limits=graph_limits)
        except MatrixError as exc:
            raise PduDropped(f"bad format: {exc.message}") from None
        event_id = event_id_of(raw, version)
        redacted = redact(raw, version)
        at_ts = _int(raw.get("origin_server_ts"))
        for server in _required_signers(raw, version):
            await self._signed(server, redacted, at_ts)
        if not check_content_hash(raw):
            return Pdu(redacted, event_id, version)
        return Pdu(raw, event_id, version)

    async def check_signed_by(self, pdu: Pdu, server: ServerName) -> None:
        """Require `server`'s valid signature on `pdu` (e.g. an invitee's server on an invite).

        Raises:
            PduDropped: If it is missing or bad.
        """
        await self._signed(server, redact(pdu.raw, pdu.room_version), pdu.origin_server_ts)

    async def _signed(self, server: ServerName, redacted: JsonDict, at_ts: int) -> None:
        if self._keyring is None:
            raise PduDropped("federation is disabled")
        try:
            await self._keyring.verify_json_for_server(server, redacted, at_ts)
        except SignatureError as exc:
            raise PduDropped(f"signature of {server}: {exc}") from None


def _required_signers(raw: JsonDict, version: RoomVersion) -> list[ServerName]:
    sender = raw.get("sender")
    servers = [server_name_of(str(sender))]
    content = raw.get("content")
    if (
        version.restricted_join_rule
        and raw.get("type") == M_ROOM_MEMBER
        and isinstance(content, dict)
        and content.get("membership") == Membership.JOIN
        and isinstance(content.get(AUTHORISED_VIA), str)
    ):
        servers.append(server_name_of(content[AUTHORISED_VIA]))
    return list(dict.fromkeys(servers))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

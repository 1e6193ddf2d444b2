"""Megolm (`m.megolm.v1.aes-sha2`) group sessions: outbound per room, inbound by session ID.

Outbound: one vodozemac `GroupSession` per encrypted room, with the devices it was shared with
and the ratchet index each got. It must be replaced ("rotated") once it is older than the room's
`rotation_period_ms` or has encrypted `rotation_period_msgs` messages, and whenever a device it
was shared with is no longer a recipient (a member left, a device was deleted or blocked).

Inbound: vodozemac `InboundGroupSession`s keyed by (room ID, session ID) — never by the
deprecated `sender_key`/`device_id` — with where the key came from. A key for a known session
replaces the stored one only if it reaches an earlier message index.

Replay detection: the (session, message index) of every decrypted event is remembered with its
event ID and timestamp; the same index under a different event ID or timestamp raises
`ReplayedMessage`, while decrypting the same event again is fine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Final

from core.errors import JsonDict
from sdk.crypto._vodozemac import (
    ExportedSessionKey,
    GroupSession,
    InboundGroupSession,
    MegolmMessage,
    SessionKey,
    VodozemacError,
)
from sdk.crypto.errors import DecryptionError, MissingRoomKey, ReplayedMessage
from sdk.crypto.protocol.account import MEGOLM_ALGORITHM

__all__ = [
    "DEFAULT_ROTATION_MS",
    "DEFAULT_ROTATION_MSGS",
    "InboundGroup",
    "InboundSessions",
    "MegolmPlaintext",
    "OutboundGroup",
]

logger = logging.getLogger(__name__)

DEFAULT_ROTATION_MS: Final = 604_800_000
DEFAULT_ROTATION_MSGS: Final = 100


@dataclass(slots=True)
class OutboundGroup:
    """This device's outbound session in one room.

    Attributes:
        room_id: The room.
        session: The vodozemac session (secret; hidden from repr).
        created_ms: When it was created.
        message_count: How many events it encrypted.
        rotation_ms: The room's rotation period in milliseconds.
        rotation_msgs: The room's rotation period in messages.
        shared_with: `(user_id, device_id)` → ed25519 key of each device holding the key.
        shared_history: Whether the room's history visibility allowed sharing when created.
    """

    room_id: str
    session: GroupSession = field(repr=False)
    created_ms: int
    rotation_ms: int = DEFAULT_ROTATION_MS
    rotation_msgs: int = DEFAULT_ROTATION_MSGS
    message_count: int = 0
    shared_with: dict[tuple[str, str], str] = field(default_factory=dict)
    shared_history: bool = False

    @property
    def session_id(self) -> str:
        return self.session.session_id

    def expired(self, now_ms: int) -> bool:
        """Whether the rotation period in time or messages has run out."""
        return (
            self.message_count >= self.rotation_msgs or now_ms - self.created_ms >= self.rotation_ms
        )

    def room_key_content(self) -> JsonDict:
        """The `m.room_key` content carrying the key at the current ratchet index."""
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "room_id": self.room_id,
            "session_id": self.session_id,
            "session_key": self.session.session_key.to_base64(),
            "shared_history": self.shared_history,
        }

    def encrypt(
        self, sender_key: str, device_id: str, event_type: str, content: JsonDict
    ) -> JsonDict:
        """Encrypt one room event; the `m.room.encrypted` content."""
        plaintext = {"type": event_type, "content": content, "room_id": self.room_id}
        message = self.session.encrypt(json.dumps(plaintext).encode())
        self.message_count += 1
        encrypted: JsonDict = {
            "algorithm": MEGOLM_ALGORITHM,
            "sender_key": sender_key,
            "device_id": device_id,
            "session_id": self.session_id,
            "ciphertext": message.to_base64(),
        }
        relates_to = content.get("m.relates_to")
        if relates_to is not None:
            # Relations stay visible so servers can aggregate them (spec "Mixing relations
            # and encryption").
            encrypted["m.relates_to"] = relates_to
        return encrypted

    def to_json(self, pickle_key: bytes) -> bytes:
        """The stored form."""
        return json.dumps(
            {
                "pickle": self.session.pickle(pickle_key),
                "created": self.created_ms,
                "count": self.message_count,
                "rotation_ms": self.rotation_ms,
                "rotation_msgs": self.rotation_msgs,
                "shared_with": [[u, d, k] for (u, d), k in self.shared_with.items()],
                "shared_history": self.shared_history,
            }
        ).encode()

    @classmethod
    def from_json(cls, room_id: str, data: bytes, pickle_key: bytes) -> OutboundGroup:
        """Inverse of `to_json`."""
        item = json.loads(data)
        return cls(
            room_id,
            GroupSession.from_pickle(item["pickle"], pickle_key),
            item["created"],
            item["rotation_ms"],
            item["rotation_msgs"],
            item["count"],
            {(u, d): k for u, d, k in item["shared_with"]},
            item["shared_history"],
        )


@dataclass(slots=True)
class InboundGroup:
    """A Megolm session we can decrypt with, and its provenance.

    Attributes:
        room_id: The room the key is for.
        session: The vodozemac session (secret; hidden from repr).
        sender_key: Curve25519 key of the device that created the session (as claimed).
        sender_ed25519: Ed25519 key of that device (as claimed).
        owner: The user whose Olm channel delivered the key directly, or None for keys from
            backup, forwarding or a history bundle.
        source: `room_key`, `forwarded`, `backup`, `bundle` or `own`.
        forwarder: The user who forwarded or bundled the key, if any.
        forwarding_chain: Curve25519 keys the key passed through.
        shared_history: Whether the creator marked the session shareable.
        backed_up: Whether it was uploaded to the current backup.
    """

    room_id: str
    session: InboundGroupSession = field(repr=False)
    sender_key: str
    sender_ed25519: str
    owner: str | None
    source: str
    forwarder: str | None = None
    forwarding_chain: list[str] = field(default_factory=list)
    shared_history: bool = False
    backed_up: bool = False

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def first_known_index(self) -> int:
        return self.session.first_known_index

    def export(self) -> str:
        """The session key at its first known index, in the session-export format."""
        exported = self.session.export_at(self.first_known_index)
        if exported is None:
            raise DecryptionError("session cannot be exported at its first known index")
        return exported.to_base64()

    def to_json(self, pickle_key: bytes) -> bytes:
        """The stored form."""
        return json.dumps(
            {
                "room_id": self.room_id,
                "pickle": self.session.pickle(pickle_key),
                "sender_key": self.sender_key,
                "sender_ed25519": self.sender_ed25519,
                "owner": self.owner,
                "source": self.source,
                "forwarder": self.forwarder,
                "chain": self.forwarding_chain,
                "shared_history": self.shared_history,
                "backed_up": self.backed_up,
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, pickle_key: bytes) -> InboundGroup:
        """Inverse of `to_json`."""
        item = json.loads(data)
        session = InboundGroupSession.from_pickle(item["pickle"], pickle_key)
        return cls(
            item["room_id"],
            session,
            item["sender_key"],
            item["sender_ed25519"],
            item["owner"],
            item["source"],
            item["forwarder"],
            item["chain"],
            item["shared_history"],
            item["backed_up"],
        )

    @staticmethod
    def session_from_key(session_key: str, *, exported: bool) -> InboundGroupSession:
        """A vodozemac inbound session from an `m.room_key` key or an exported key.

        Raises:
            DecryptionError: The key does not parse.
        """
        try:
            if exported:
                return InboundGroupSession.import_session(ExportedSessionKey(session_key))
            return InboundGroupSession(SessionKey(session_key))
        except VodozemacError as exc:
            raise DecryptionError("malformed Megolm session key") from exc


@dataclass(frozen=True, slots=True)
class MegolmPlaintext:
    """A decrypted room event and the session that decrypted it."""

    event_type: str
    content: JsonDict = field(repr=False)
    message_index: int
    group: InboundGroup


class InboundSessions:
    """Inbound Megolm sessions and the replay-detection log."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], InboundGroup] = {}
        self.seen: dict[tuple[str, int], tuple[str, int]] = {}
        self.dirty: set[tuple[str, str]] = set()
        self.dirty_seen: set[tuple[str, int]] = set()

    def get(self, room_id: str, session_id: str) -> InboundGroup | None:
        return self.groups.get((room_id, session_id))

    def add(self, group: InboundGroup) -> bool:
        """Store `group` unless an existing key for the session reaches as early an index.

        A key replacing a held one must be the same ratchet: ratcheted forward to the held
        key's first index it must export exactly the held key. (A session ID is only a public
        key, so an unsigned exported key could otherwise claim it with a bogus ratchet.)

        Returns:
            True if stored.
        """
        key = (group.room_id, group.session_id)
        existing = self.groups.get(key)
        if existing is not None and existing.first_known_index <= group.first_known_index:
            return False
        if existing is not None:
            index = existing.first_known_index
            ours, theirs = existing.session.export_at(index), group.session.export_at(index)
            if ours is None or theirs is None or ours.to_base64() != theirs.to_base64():
                logger.warning(
                    "refused a key that contradicts a held session room_id=%s", group.room_id
                )
                return False
            if existing.owner is not None and group.owner is None:
                # Keep the provenance of a key that came straight from its creator.
                group.owner, group.source = existing.owner, existing.source
        self.groups[key] = group
        self.dirty.add(key)
        return True

    def decrypt(
        self, room_id: str, sender: str, content: JsonDict, event_id: str, origin_ts: int
    ) -> MegolmPlaintext:
        """Decrypt a Megolm `m.room.encrypted` content with replay protection.

        Raises:
            MissingRoomKey: The session is unknown or the key starts after this message.
            ReplayedMessage: The index was already used by another event.
            DecryptionError: Malformed, not authentic, for another room, or from a session
                its creator's user delivered directly but `sender` is someone else.
        """
        session_id, ciphertext = content.get("session_id"), content.get("ciphertext")
        if content.get("algorithm") != MEGOLM_ALGORITHM:
            raise DecryptionError(f"unsupported algorithm {content.get('algorithm')!r}")
        if not isinstance(session_id, str) or not isinstance(ciphertext, str):
            raise DecryptionError("Megolm event lacks session_id or ciphertext")
        group = self.groups.get((room_id, session_id))
        if group is None:
            raise MissingRoomKey(room_id, session_id)
        try:
            message = MegolmMessage.from_base64(ciphertext)
        except VodozemacError as exc:
            raise DecryptionError("malformed Megolm ciphertext") from exc
        if message.message_index() < group.first_known_index:
            raise MissingRoomKey(room_id, session_id, "key only known from a later index")
        try:
            decrypted = group.session.decrypt(message)
        except VodozemacError as exc:
            raise DecryptionError("Megolm message failed authentication") from exc
        if group.owner is not None and group.owner != sender:
            raise DecryptionError("the session of this event was created by another user")
        try:
            payload = json.loads(decrypted.plaintext)
        except ValueError as exc:
            raise DecryptionError("Megolm plaintext is not JSON") from exc
        if not isinstance(payload, dict) or payload.get("room_id") != room_id:
            raise DecryptionError("Megolm plaintext is for a different room")
        event_type, inner = payload.get("type"), payload.get("content")
        if not isinstance(event_type, str) or not isinstance(inner, dict):
            raise DecryptionError("Megolm plaintext lacks type or content")
        # Only a fully valid event claims its index, so a bad one cannot block the real one.
        self._check_replay(session_id, decrypted.message_index, event_id, origin_ts)
        return MegolmPlaintext(event_type, inner, decrypted.message_index, group)

    def _check_replay(self, session_id: str, index: int, event_id: str, origin_ts: int) -> None:
        key = (session_id, index)
        previous = self.seen.get(key)
        if previous is not None and previous != (event_id, origin_ts):
            raise ReplayedMessage(
                f"message index {index} of session {session_id} was already used by {previous[0]}"
            )
        if previous is None:
            self.seen[key] = (event_id, origin_ts)
            self.dirty_seen.add(key)

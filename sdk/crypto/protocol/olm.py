"""Olm sessions with other devices and `m.olm.v1.curve25519-aes-sha2` to-device messages.

Outbound sessions are created from a claimed `signed_curve25519` one-time key only after its
signature has been checked against the target device's Ed25519 key. Inbound sessions are created
from pre-key messages that no existing session matches; a session is kept only once a message
decrypted with it (vodozemac creates and decrypts in one step).

Every decrypted payload is validated as the spec's "Validation of incoming decrypted events"
requires: sender, recipient and recipient key match, and the sender's Ed25519 key matches the
device that owns the Curve25519 key (from `sender_device_keys`, checked and self-signed, or from
the device list). A payload failing any check raises `DecryptionError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.base64 import decode_unpadded, encode_unpadded
from core.errors import JsonDict
from sdk.crypto._vodozemac import PRE_KEY, AnyOlmMessage, Session, VodozemacError
from sdk.crypto.errors import DecryptionError, SignatureInvalid
from sdk.crypto.protocol.account import OLM_ALGORITHM, OlmAccount
from sdk.crypto.protocol.devices import Device, TrustStore, parse_device_keys
from sdk.crypto.protocol.signing import has_valid_signature

__all__ = ["OlmPayload", "OlmSessions", "StoredSession", "verify_one_time_key"]

_MAX_SESSIONS_PER_DEVICE = 5


@dataclass(slots=True)
class StoredSession:
    """One Olm session with a peer device and when it was last used to receive."""

    session: Session = field(repr=False)
    created_ms: int
    last_received_ms: int

    @property
    def session_id(self) -> str:
        return self.session.session_id


@dataclass(frozen=True, slots=True)
class OlmPayload:
    """A decrypted and validated to-device payload.

    Attributes:
        sender: The sending user.
        sender_key: The sending device's Curve25519 key (the Olm channel).
        sender_ed25519: The sending device's Ed25519 key (validated against the channel).
        sender_device: The sending device, if known from its keys.
        event_type: The inner event type.
        content: The inner event content.
    """

    sender: str
    sender_key: str
    sender_ed25519: str
    sender_device: Device | None
    event_type: str
    content: JsonDict = field(repr=False)


def verify_one_time_key(claimed: JsonDict, device: Device) -> str:
    """The Curve25519 one-time key of a `/keys/claim` entry, after checking its signature.

    Raises:
        SignatureInvalid: The key is missing or not signed by the device.
    """
    key = claimed.get("key")
    if not isinstance(key, str):
        raise SignatureInvalid("claimed one-time key has no 'key'")
    if not has_valid_signature(
        claimed, device.user_id, f"ed25519:{device.device_id}", device.ed25519
    ):
        raise SignatureInvalid(
            f"one-time key of {device.user_id}/{device.device_id} is not signed by it"
        )
    return key


class OlmSessions:
    """All Olm sessions of this device, by the peer's Curve25519 key."""

    def __init__(self, account: OlmAccount) -> None:
        self.account = account
        self.sessions: dict[str, list[StoredSession]] = {}
        self.dirty: set[str] = set()

    def has_session(self, curve25519: str) -> bool:
        """Whether any session with that device exists."""
        return bool(self.sessions.get(curve25519))

    def add(self, curve25519: str, stored: StoredSession) -> None:
        """Keep a session, newest first, at most a few per device."""
        entries = [stored, *self.sessions.get(curve25519, [])]
        self.sessions[curve25519] = entries[:_MAX_SESSIONS_PER_DEVICE]
        self.dirty.add(curve25519)

    def create_outbound(self, device: Device, one_time_key: str, now_ms: int) -> None:
        """Start a session to `device` with a verified one-time key."""
        session = self.account.create_outbound_session(device.curve25519, one_time_key)
        self.add(device.curve25519, StoredSession(session, now_ms, now_ms))

    def _preferred(self, curve25519: str) -> StoredSession:
        entries = self.sessions.get(curve25519)
        if not entries:
            raise LookupError("no Olm session with this device")
        return max(entries, key=lambda s: (s.last_received_ms, s.created_ms))

    def encrypt(self, device: Device, event_type: str, content: JsonDict) -> JsonDict:
        """Encrypt a to-device event for `device`; the `m.room.encrypted` content.

        Raises:
            LookupError: No Olm session with that device (claim a one-time key first).
        """
        stored = self._preferred(device.curve25519)
        payload = {
            "type": event_type,
            "content": content,
            "sender": self.account.user_id,
            "recipient": device.user_id,
            "recipient_keys": {"ed25519": device.ed25519},
            "keys": {"ed25519": self.account.ed25519},
            "sender_device_keys": self.account.device_keys(),
        }
        message_type, body = stored.session.encrypt(json.dumps(payload).encode()).to_parts()
        self.dirty.add(device.curve25519)
        return {
            "algorithm": OLM_ALGORITHM,
            "sender_key": self.account.curve25519,
            "ciphertext": {
                device.curve25519: {"type": message_type, "body": encode_unpadded(body)}
            },
        }

    def _decrypt_bytes(self, sender_key: str, message_type: int, body: bytes, now_ms: int) -> bytes:
        try:
            message = AnyOlmMessage.from_parts(message_type, body)
        except VodozemacError as exc:
            raise DecryptionError("malformed Olm message") from exc
        pre_key = message.to_pre_key() if message_type == PRE_KEY else None
        for stored in self.sessions.get(sender_key, []):
            if pre_key is not None and not stored.session.session_matches(pre_key):
                continue
            try:
                plaintext = stored.session.decrypt(message)
            except VodozemacError:
                continue
            stored.last_received_ms = now_ms
            self.dirty.add(sender_key)
            return plaintext
        if pre_key is None:
            raise DecryptionError("no Olm session decrypts this message")
        try:
            session, plaintext = self.account.create_inbound_session(sender_key, pre_key)
        except VodozemacError as exc:
            raise DecryptionError("cannot create an Olm session from this pre-key message") from exc
        self.add(sender_key, StoredSession(session, now_ms, now_ms))
        return plaintext

    def decrypt(self, sender: str, content: JsonDict, trust: TrustStore, now_ms: int) -> OlmPayload:
        """Decrypt and validate an Olm `m.room.encrypted` to-device event.

        Raises:
            DecryptionError: Not for this device, undecryptable, or failing validation.
        """
        sender_key = content.get("sender_key")
        ciphertext = content.get("ciphertext")
        if content.get("algorithm") != OLM_ALGORITHM or not isinstance(sender_key, str):
            raise DecryptionError("not an Olm message")
        entry = ciphertext.get(self.account.curve25519) if isinstance(ciphertext, dict) else None
        if not isinstance(entry, dict):
            raise DecryptionError("Olm message has no ciphertext for this device")
        message_type, body = entry.get("type"), entry.get("body")
        if not isinstance(message_type, int) or not isinstance(body, str):
            raise DecryptionError("malformed Olm ciphertext entry")
        try:
            raw = decode_unpadded(body)
        except ValueError as exc:
            raise DecryptionError("Olm body is not Base64") from exc
        plaintext = self._decrypt_bytes(sender_key, message_type, raw, now_ms)
        try:
            payload = json.loads(plaintext)
        except ValueError as exc:
            raise DecryptionError("Olm plaintext is not JSON") from exc
        if not isinstance(payload, dict):
            raise DecryptionError("Olm plaintext is not an object")
        return self._validate(sender, sender_key, payload, trust)

    def _validate(
        self, sender: str, sender_key: str, payload: JsonDict, trust: TrustStore
    ) -> OlmPayload:
        keys, recipient_keys = payload.get("keys"), payload.get("recipient_keys")
        claimed = keys.get("ed25519") if isinstance(keys, dict) else None
        if payload.get("sender") != sender:
            raise DecryptionError("Olm payload sender does not match the event sender")
        if payload.get("recipient") != self.account.user_id:
            raise DecryptionError("Olm payload is addressed to another user")
        if (
            not isinstance(recipient_keys, dict)
            or recipient_keys.get("ed25519") != self.account.ed25519
        ):
            raise DecryptionError("Olm payload is addressed to another device")
        if not isinstance(claimed, str):
            raise DecryptionError("Olm payload lacks the sender's ed25519 key")
        device = self._sender_device(
            sender, sender_key, claimed, payload.get("sender_device_keys"), trust
        )
        event_type, content = payload.get("type"), payload.get("content")
        if not isinstance(event_type, str) or not isinstance(content, dict):
            raise DecryptionError("Olm payload lacks type or content")
        return OlmPayload(sender, sender_key, claimed, device, event_type, content)

    @staticmethod
    def _sender_device(
        sender: str, sender_key: str, claimed: str, device_keys: object, trust: TrustStore
    ) -> Device | None:
        if device_keys is not None:
            device_id = device_keys.get("device_id") if isinstance(device_keys, dict) else None
            try:
                device = parse_device_keys(device_keys, sender, str(device_id))
            except SignatureInvalid as exc:
                raise DecryptionError(f"invalid sender_device_keys: {exc}") from exc
            if device.curve25519 != sender_key or device.ed25519 != claimed:
                raise DecryptionError("sender_device_keys do not match the Olm channel")
            known = trust.device(sender, device.device_id)
            if known is not None and known.ed25519 != device.ed25519:
                raise DecryptionError("sender_device_keys conflict with the known device")
            return known or device
        by_curve = trust.device_by_curve25519(sender, sender_key)
        if by_curve is not None and by_curve.ed25519 != claimed:
            raise DecryptionError("sender's ed25519 key does not match its device keys")
        return by_curve

    def pickled(self, curve25519: str, pickle_key: bytes) -> bytes | None:
        """The stored form of the sessions with one device (None if there are none)."""
        entries = self.sessions.get(curve25519)
        if not entries:
            return None
        return json.dumps(
            [
                {
                    "pickle": s.session.pickle(pickle_key),
                    "created": s.created_ms,
                    "received": s.last_received_ms,
                }
                for s in entries
            ]
        ).encode()

    def load(self, curve25519: str, data: bytes, pickle_key: bytes) -> None:
        """Restore the sessions with one device from `pickled` output."""
        self.sessions[curve25519] = [
            StoredSession(
                Session.from_pickle(item["pickle"], pickle_key), item["created"], item["received"]
            )
            for item in json.loads(data)
        ]

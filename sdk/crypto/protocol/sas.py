"""Interactive emoji verification, `m.sas.v1` over to-device messages (spec "SAS verification").

A pure state machine: it consumes the other device's `m.key.verification.*` contents and returns
the contents to send back; nothing here does I/O. The flow, with A the requesting device:

    A request → B ready → A start → B accept (commitment) → A key → B key
    both show the same 7 emoji → users confirm → both mac → both done

Key agreement is vodozemac's `Sas` (`curve25519-hkdf-sha256`), the SAS bytes use the spec's info
string, and MACs use `hkdf-hmac-sha256.v2`. The keys being verified (the other device's Ed25519
key and, if known, its user's master key) are fixed when the verification is created, as the
spec requires, and a MAC is accepted only for exactly those keys.

Invariants: any protocol violation (bad commitment, unknown method, message out of order, MAC
mismatch) moves to CANCELLED and yields an `m.key.verification.cancel`; `verified_keys` is
non-empty only after both users confirmed and the other side's MACs checked out.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Final

from core.base64 import encode_unpadded
from core.canonical_json import encode_canonical
from core.errors import JsonDict
from sdk.crypto._vodozemac import (
    Curve25519PublicKey,
    EstablishedSas,
    Sas,
    VodozemacError,
    sas_bytes,
)

__all__ = ["EMOJI", "SAS_METHOD", "SasState", "SasVerification", "VerificationMessage"]

SAS_METHOD: Final = "m.sas.v1"
_KEY_AGREEMENT: Final = "curve25519-hkdf-sha256"
_HASH: Final = "sha256"
_MAC: Final = "hkdf-hmac-sha256.v2"
_SAS_TYPES: Final = ["decimal", "emoji"]
_PREFIX: Final = "m.key.verification."

EMOJI: Final[tuple[tuple[str, str], ...]] = (
    ("🐶", "Dog"), ("🐱", "Cat"), ("🦁", "Lion"), ("🐎", "Horse"), ("🦄", "Unicorn"), ("🐷", "Pig"),
    ("🐘", "Elephant"), ("🐰", "Rabbit"), ("🐼", "Panda"), ("🐓", "Rooster"), ("🐧", "Penguin"),
    ("🐢", "Turtle"), ("🐟", "Fish"), ("🐙", "Octopus"), ("🦋", "Butterfly"), ("🌷", "Flower"),
    ("🌳", "Tree"), ("🌵", "Cactus"), ("🍄", "Mushroom"), ("🌏", "Globe"), ("🌙", "Moon"),
    ("☁️", "Cloud"), ("🔥", "Fire"), ("🍌", "Banana"), ("🍎", "Apple"), ("🍓", "Strawberry"),
    ("🌽", "Corn"), ("🍕", "Pizza"), ("🎂", "Cake"), ("❤️", "Heart"), ("😀", "Smiley"),
    ("🤖", "Robot"), ("🎩", "Hat"), ("👓", "Glasses"), ("🔧", "Spanner"), ("🎅", "Santa"),
    ("👍", "Thumbs Up"), ("☂️", "Umbrella"), ("⌛", "Hourglass"), ("⏰", "Clock"), ("🎁", "Gift"),
    ("💡", "Light Bulb"), ("📕", "Book"), ("✏️", "Pencil"), ("📎", "Paperclip"), ("✂️", "Scissors"),
    ("🔒", "Lock"), ("🔑", "Key"), ("🔨", "Hammer"), ("☎️", "Telephone"), ("🏁", "Flag"),
    ("🚂", "Train"), ("🚲", "Bicycle"), ("✈️", "Aeroplane"), ("🚀", "Rocket"), ("🏆", "Trophy"),
    ("⚽", "Ball"), ("🎸", "Guitar"), ("🎺", "Trumpet"), ("🔔", "Bell"), ("⚓", "Anchor"),
    ("🎧", "Headphones"), ("📁", "Folder"), ("📌", "Pin"),
)  # fmt: skip


class SasState(enum.Enum):
    """Where a verification stands."""

    REQUESTED = "requested"  # a request was sent or received, no ready yet
    READY = "ready"
    STARTED = "started"
    ACCEPTED = "accepted"
    KEYS_EXCHANGED = "keys_exchanged"  # the SAS can be shown
    CONFIRMED = "confirmed"  # our user confirmed; our MAC is sent
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class VerificationMessage:
    """A to-device message for the other device (`m.key.verification.*`, unencrypted)."""

    event_type: str
    content: JsonDict


@dataclass(slots=True)
class SasVerification:
    """One SAS verification between this device and one device of another (or the same) user.

    Attributes:
        transaction_id: The flow's ID, shared by every message.
        our_user / our_device: This side.
        their_user / their_device: The other side (`their_device` None until it answers).
        we_requested: Whether this device sent the request (and therefore the start).
        our_keys: Key ID → public key this device asks the other to verify.
        their_keys: Key ID → public key of the other side to be verified, fixed up front.
        state: Where the flow stands.
        cancel_code / cancel_reason: Why it was cancelled, if it was.
        verified_keys: Key ID → public key of the other side whose MAC matched.
    """

    transaction_id: str
    our_user: str
    our_device: str
    their_user: str
    their_device: str | None
    we_requested: bool
    our_keys: dict[str, str]
    their_keys: dict[str, str] = field(default_factory=dict)
    state: SasState = SasState.REQUESTED
    cancel_code: str | None = None
    cancel_reason: str | None = None
    verified_keys: dict[str, str] = field(default_factory=dict)
    applied: bool = False  # set by the machine once `verified_keys` were recorded as trusted
    _sas: Sas = field(default_factory=Sas, repr=False)
    _established: EstablishedSas | None = field(default=None, repr=False)
    _start: JsonDict | None = field(default=None, repr=False)
    _commitment: str | None = None
    _their_public_key: str | None = None
    _their_mac: JsonDict | None = field(default=None, repr=False)
    _done_received: bool = False
    _done_sent: bool = False

    # --- building messages -------------------------------------------------------------

    def _msg(self, kind: str, **content: object) -> VerificationMessage:
        return VerificationMessage(
            _PREFIX + kind, {"transaction_id": self.transaction_id, **content}
        )

    def request_message(self, now_ms: int) -> VerificationMessage:
        """The `request` to send when this device initiates."""
        return self._msg(
            "request", from_device=self.our_device, methods=[SAS_METHOD], timestamp=now_ms
        )

    def accept_request(self) -> list[VerificationMessage]:
        """Our user accepts an incoming request: send `ready`."""
        if self.we_requested or self.state is not SasState.REQUESTED:
            return self.cancel("m.unexpected_message", "no incoming request to accept")
        self.state = SasState.READY
        return [self._msg("ready", from_device=self.our_device, methods=[SAS_METHOD])]

    def cancel(
        self, code: str = "m.user", reason: str = "cancelled by the user"
    ) -> list[VerificationMessage]:
        """Cancel the flow; returns the `cancel` to send (nothing if already over)."""
        if self.state in (SasState.CANCELLED, SasState.DONE):
            return []
        self.state, self.cancel_code, self.cancel_reason = SasState.CANCELLED, code, reason
        return [self._msg("cancel", code=code, reason=reason)]

    # --- the short authentication string -----------------------------------------------

    def _sas_info(self) -> str:
        ours, theirs = self._sas.public_key.to_base64(), str(self._their_public_key)
        our_side = f"{self.our_user}|{self.our_device}|{ours}"
        their_side = f"{self.their_user}|{self.their_device}|{theirs}"
        first, second = (our_side, their_side) if self.we_requested else (their_side, our_side)
        return f"MATRIX_KEY_VERIFICATION_SAS|{first}|{second}|{self.transaction_id}"

    def emojis(self) -> list[tuple[str, str]]:
        """The seven (emoji, description) pairs both users compare."""
        if self._established is None:
            raise ValueError("the SAS is not available until keys are exchanged")
        indices, _ = sas_bytes(self._established, self._sas_info())
        return [EMOJI[i] for i in indices]

    def decimals(self) -> tuple[int, int, int]:
        """The three numbers of the `decimal` method."""
        if self._established is None:
            raise ValueError("the SAS is not available until keys are exchanged")
        return sas_bytes(self._established, self._sas_info())[1]

    # --- confirmation and MACs ---------------------------------------------------------

    def _mac_info(
        self, owner_user: str, owner_device: str, other_user: str, other_device: str
    ) -> str:
        return (
            f"MATRIX_KEY_VERIFICATION_MAC{owner_user}{owner_device}{other_user}{other_device}"
            f"{self.transaction_id}"
        )

    def confirm(self) -> list[VerificationMessage]:
        """Our user says the emoji match: send our MACs (and `done` if theirs checked out)."""
        if self.state is not SasState.KEYS_EXCHANGED or self._established is None:
            return self.cancel("m.unexpected_message", "nothing to confirm yet")
        base = self._mac_info(
            self.our_user, self.our_device, self.their_user, str(self.their_device)
        )
        macs = {
            kid: self._established.calculate_mac(key, base + kid)
            for kid, key in self.our_keys.items()
        }
        keys_mac = self._established.calculate_mac(
            ",".join(sorted(self.our_keys)), base + "KEY_IDS"
        )
        self.state = SasState.CONFIRMED
        out = [self._msg("mac", mac=macs, keys=keys_mac)]
        if self._their_mac is not None:
            out += self._check_their_mac()
        return out

    def mismatch(self) -> list[VerificationMessage]:
        """Our user says the emoji differ."""
        return self.cancel("m.mismatched_sas", "the short authentication strings differ")

    def _check_their_mac(self) -> list[VerificationMessage]:
        if self._established is None or self._their_mac is None:
            return self.cancel("m.unexpected_message", "no MAC to check yet")
        macs, keys_mac = self._their_mac.get("mac"), self._their_mac.get("keys")
        if not isinstance(macs, dict) or not isinstance(keys_mac, str):
            return self.cancel("m.invalid_message", "malformed mac message")
        base = self._mac_info(
            self.their_user, str(self.their_device), self.our_user, self.our_device
        )
        try:
            self._established.verify_mac(",".join(sorted(macs)), base + "KEY_IDS", keys_mac)
            verified = {}
            for key_id, mac in macs.items():
                if key_id not in self.their_keys:
                    continue  # a key we did not fix up front is never trusted
                self._established.verify_mac(self.their_keys[key_id], base + key_id, str(mac))
                verified[key_id] = self.their_keys[key_id]
        except VodozemacError:
            return self.cancel("m.key_mismatch", "a MAC did not match")
        if f"ed25519:{self.their_device}" not in verified:
            return self.cancel("m.key_mismatch", "the device key was not among the MACs")
        self.verified_keys = verified
        self._done_sent = True
        self._finish()
        return [self._msg("done")]

    def _finish(self) -> None:
        if self._done_sent and self._done_received:
            self.state = SasState.DONE

    # --- receiving ---------------------------------------------------------------------

    def receive(self, event_type: str, content: JsonDict) -> list[VerificationMessage]:
        """Handle one message from the other device; returns what to send back."""
        kind = event_type.removeprefix(_PREFIX)
        if self.state is SasState.CANCELLED:
            return []
        if kind == "cancel":
            self.state = SasState.CANCELLED
            self.cancel_code = str(content.get("code", "m.user"))
            self.cancel_reason = str(content.get("reason", ""))
            return []
        handler = {
            "ready": self._on_ready,
            "start": self._on_start,
            "accept": self._on_accept,
            "key": self._on_key,
            "mac": self._on_mac,
            "done": self._on_done,
        }.get(kind)
        if handler is None:
            return self.cancel("m.unexpected_message", f"unexpected {event_type}")
        return handler(content)

    def _on_ready(self, content: JsonDict) -> list[VerificationMessage]:
        methods = content.get("methods")
        if not self.we_requested or self.state is not SasState.REQUESTED:
            return self.cancel("m.unexpected_message", "unexpected ready")
        if not isinstance(methods, list) or SAS_METHOD not in methods:
            return self.cancel("m.unknown_method", "the other device does not support m.sas.v1")
        self.state = SasState.STARTED
        start = self._msg(
            "start",
            from_device=self.our_device,
            method=SAS_METHOD,
            key_agreement_protocols=[_KEY_AGREEMENT],
            hashes=[_HASH],
            message_authentication_codes=[_MAC],
            short_authentication_string=_SAS_TYPES,
        )
        self._start = start.content
        return [start]

    def _on_start(self, content: JsonDict) -> list[VerificationMessage]:
        if self.we_requested or self.state is not SasState.READY:
            return self.cancel("m.unexpected_message", "unexpected start")
        offered = (
            content.get("method") == SAS_METHOD
            and _KEY_AGREEMENT in _as_list(content.get("key_agreement_protocols"))
            and _HASH in _as_list(content.get("hashes"))
            and _MAC in _as_list(content.get("message_authentication_codes"))
            and "emoji" in _as_list(content.get("short_authentication_string"))
        )
        if not offered:
            return self.cancel("m.unknown_method", "no common SAS parameters")
        self._start = content
        commitment = _commit(self._sas.public_key.to_base64(), content)
        self.state = SasState.ACCEPTED
        return [
            self._msg(
                "accept",
                method=SAS_METHOD,
                key_agreement_protocol=_KEY_AGREEMENT,
                hash=_HASH,
                message_authentication_code=_MAC,
                short_authentication_string=_SAS_TYPES,
                commitment=commitment,
            )
        ]

    def _on_accept(self, content: JsonDict) -> list[VerificationMessage]:
        commitment = content.get("commitment")
        if not self.we_requested or self.state is not SasState.STARTED:
            return self.cancel("m.unexpected_message", "unexpected accept")
        if (
            content.get("key_agreement_protocol") != _KEY_AGREEMENT
            or content.get("message_authentication_code") != _MAC
        ):
            return self.cancel("m.unknown_method", "unsupported accept parameters")
        if not isinstance(commitment, str):
            return self.cancel("m.invalid_message", "accept lacks a commitment")
        self._commitment = commitment
        self.state = SasState.ACCEPTED
        return [self._msg("key", key=self._sas.public_key.to_base64())]

    def _on_key(self, content: JsonDict) -> list[VerificationMessage]:
        key = content.get("key")
        if self.state is not SasState.ACCEPTED or self._their_public_key is not None:
            return self.cancel("m.unexpected_message", "unexpected key")
        if not isinstance(key, str):
            return self.cancel("m.invalid_message", "key message lacks a key")
        if self.we_requested and (
            self._start is None or _commit(key, self._start) != self._commitment
        ):
            return self.cancel("m.mismatched_commitment", "the key does not match the commitment")
        try:
            self._established = self._sas.diffie_hellman(Curve25519PublicKey.from_base64(key))
        except VodozemacError:
            return self.cancel("m.invalid_message", "the key is not a Curve25519 key")
        self._their_public_key = key
        self.state = SasState.KEYS_EXCHANGED
        if self.we_requested:
            return []
        return [self._msg("key", key=self._sas.public_key.to_base64())]

    def _on_mac(self, content: JsonDict) -> list[VerificationMessage]:
        if (
            self.state not in (SasState.KEYS_EXCHANGED, SasState.CONFIRMED)
            or self._their_mac is not None
        ):
            return self.cancel("m.unexpected_message", "unexpected mac")
        self._their_mac = content
        return self._check_their_mac() if self.state is SasState.CONFIRMED else []

    def _on_done(self, content: JsonDict) -> list[VerificationMessage]:
        del content
        if self.state is not SasState.CONFIRMED and not self._done_sent:
            return self.cancel("m.unexpected_message", "done before the MACs were checked")
        self._done_received = True
        self._finish()
        return []


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _commit(public_key: str, start_content: JsonDict) -> str:
    digest = hashlib.sha256(public_key.encode() + encode_canonical(start_content)).digest()
    return encode_unpadded(digest)

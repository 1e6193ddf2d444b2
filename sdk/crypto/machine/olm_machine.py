"""`OlmMachine`: the sans-I/O end-to-end encryption core of the SDK.

The machine is assembled from API groups over one shared state (`MachineBase`): key upload,
device tracking and claims (`KeysMixin`), Megolm sharing and room event encryption
(`RoomsMixin`), key requests, history bundles and backup (`SharingMixin`), and verification and
cross-signing (`TrustMixin`). It never touches the network: methods take response bodies and
return request bodies or `ToDeviceRequest`s, and a driver (`sdk.crypto.e2ee.client.E2EE`) performs the
HTTP calls with the client. This makes every protocol step testable without a server.

`receive_sync` is the entry point for each sync: it folds one-time key counts and device list
changes, then decrypts and dispatches the to-device events in order. Olm failures are logged and
counted, never raised, so one bad message cannot stall the sync loop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.errors import JsonDict
from core.event_types import M_ROOM_ENCRYPTED
from sdk.crypto.errors import DecryptionError
from sdk.crypto.machine.base import ToDeviceRequest
from sdk.crypto.machine.keys import KeysMixin
from sdk.crypto.machine.sharing import SharingMixin
from sdk.crypto.machine.trust import TrustMixin
from sdk.crypto.protocol.devices import Device
from sdk.crypto.protocol.olm import OlmPayload

__all__ = ["DecryptedToDevice", "KeyBundleNotice", "OlmMachine", "SyncOutcome"]

logger = logging.getLogger(__name__)

_VERIFICATION = "m.key.verification."


@dataclass(frozen=True, slots=True)
class DecryptedToDevice:
    """An Olm-encrypted to-device event the machine decrypted but does not consume itself."""

    event_type: str
    sender: str
    sender_device: Device | None
    content: JsonDict = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyBundleNotice:
    """An `m.room_key_bundle`: the driver downloads `file` and calls `import_room_key_bundle`."""

    sender: str
    room_id: str
    file: JsonDict = field(repr=False)


@dataclass(slots=True)
class SyncOutcome:
    """What one `receive_sync` produced.

    Attributes:
        outgoing: To-device messages to send now (verification replies, cancellations).
        decrypted: Decrypted to-device events for the application.
        bundles: Key bundles to download and import.
        room_keys: (room ID, session ID) of Megolm keys received.
        failures: How many to-device events failed to decrypt.
    """

    outgoing: list[ToDeviceRequest] = field(default_factory=list)
    decrypted: list[DecryptedToDevice] = field(default_factory=list)
    bundles: list[KeyBundleNotice] = field(default_factory=list)
    room_keys: list[tuple[str, str]] = field(default_factory=list)
    failures: int = 0


class OlmMachine(SharingMixin, TrustMixin, KeysMixin):
    """This device's end-to-end encryption state and protocol logic (no I/O)."""

    def receive_sync(
        self,
        to_device: Iterable[tuple[str, str, JsonDict]],
        *,
        changed: Iterable[str] = (),
        left: Iterable[str] = (),
        one_time_key_counts: Mapping[str, int] | None = None,
        unused_fallback_key_types: Sequence[str] | None = None,
    ) -> SyncOutcome:
        """Fold the encryption parts of one sync response.

        Args:
            to_device: (type, sender, content) of each to-device event, in order.
            changed: `device_lists.changed`.
            left: `device_lists.left`.
            one_time_key_counts: `device_one_time_keys_count`.
            unused_fallback_key_types: `device_unused_fallback_key_types` (None if absent).
        """
        self.receive_key_counts(one_time_key_counts or {}, unused_fallback_key_types)
        self.receive_device_list_changes(changed, left)
        outcome = SyncOutcome()
        for event_type, sender, content in to_device:
            if event_type == M_ROOM_ENCRYPTED:
                self._receive_encrypted(sender, content, outcome)
            elif event_type == "m.room_key_request":
                self.receive_key_request(sender, content)
            elif event_type.startswith(_VERIFICATION):
                outcome.outgoing += self.receive_verification_event(sender, event_type, content)
        return outcome

    def _receive_encrypted(self, sender: str, content: JsonDict, outcome: SyncOutcome) -> None:
        try:
            payload = self.olm.decrypt(sender, content, self.trust, self.clock())
        except DecryptionError as exc:
            outcome.failures += 1
            logger.warning("undecryptable to-device event sender=%s: %s", sender, exc)
            return
        self.mark("account", "account")  # an inbound session may have used a one-time key
        try:
            self._dispatch(payload, outcome)
        except DecryptionError as exc:
            outcome.failures += 1
            logger.warning("refused %s sender=%s: %s", payload.event_type, sender, exc)

    def _dispatch(self, payload: OlmPayload, outcome: SyncOutcome) -> None:
        kind = payload.event_type
        if kind == "m.room_key":
            if self.receive_room_key(payload):
                content = payload.content
                outcome.room_keys.append((str(content["room_id"]), str(content["session_id"])))
        elif kind == "m.forwarded_room_key":
            cancel = self.receive_forwarded_key(payload)
            if cancel is not None:
                outcome.outgoing.append(cancel)
                content = payload.content
                outcome.room_keys.append((str(content["room_id"]), str(content["session_id"])))
        elif kind == "m.room_key_bundle":
            room_id, file = payload.content.get("room_id"), payload.content.get("file")
            if (
                payload.sender_device is None
                or not isinstance(room_id, str)
                or not isinstance(file, dict)
            ):
                raise DecryptionError("m.room_key_bundle without sender_device_keys, room or file")
            outcome.bundles.append(KeyBundleNotice(payload.sender, room_id, file))
        elif kind.startswith(_VERIFICATION):
            outcome.outgoing += self.receive_verification_event(
                payload.sender, kind, payload.content
            )
        elif kind != "m.dummy":
            outcome.decrypted.append(
                DecryptedToDevice(kind, payload.sender, payload.sender_device, payload.content)
            )

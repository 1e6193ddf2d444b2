"""In-memory plumbing for sans-I/O tests of `OlmMachine`: a key directory and a mailbox.

`Directory` plays the homeserver's key endpoints (upload, query, claim) and send-to-device, so
machines can talk without a network. It is a test double of *our* protocol partner, not of the
homeserver under test: the live tests exercise the real server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import JsonDict
from sdk.crypto.machine.base import ToDeviceRequest
from sdk.crypto.machine.olm_machine import OlmMachine, SyncOutcome
from sdk.crypto.store import CryptoStore, MemoryBackend


class Clock:
    """A settable millisecond clock."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class Directory:
    """Published device keys and one-time keys, and per-device inboxes."""

    devices: dict[str, dict[str, JsonDict]] = field(default_factory=dict)
    one_time_keys: dict[tuple[str, str], list[tuple[str, JsonDict]]] = field(default_factory=dict)
    inbox: dict[tuple[str, str], list[tuple[str, str, JsonDict]]] = field(default_factory=dict)
    machines: list[OlmMachine] = field(default_factory=list)

    async def machine(self, user_id: str, device_id: str, clock: Clock | None = None) -> OlmMachine:
        store = await CryptoStore.open(MemoryBackend())
        machine = await OlmMachine.load(store, user_id, device_id, clock or Clock())
        self.machines.append(machine)
        self.upload(machine)
        return machine

    def upload(self, machine: OlmMachine) -> None:
        body = machine.keys_upload_body() or {}
        if "device_keys" in body:
            self.devices.setdefault(machine.user_id, {})[machine.device_id] = body["device_keys"]
        keys = self.one_time_keys.setdefault((machine.user_id, machine.device_id), [])
        keys += list(body.get("one_time_keys", {}).items())
        machine.receive_keys_upload({"one_time_key_counts": {"signed_curve25519": len(keys)}})

    def query(self, machine: OlmMachine, users: list[str]) -> None:
        machine.update_tracked_users(users)
        machine.outdated.update(users)
        pending = machine.users_to_query()
        machine.receive_keys_query(
            {"device_keys": {u: self.devices.get(u, {}) for u in pending}}, pending
        )

    def claim(self, machine: OlmMachine, users: list[str]) -> None:
        claim = machine.missing_sessions(machine.recipients(users).values())
        answer: JsonDict = {}
        for user_id, devices in claim.items():
            for device_id in devices:
                pool = self.one_time_keys.get((user_id, device_id))
                if pool:
                    key_id, key = pool.pop()
                    answer.setdefault(user_id, {})[device_id] = {key_id: key}
        machine.receive_keys_claim({"one_time_keys": answer})

    def send(self, sender: OlmMachine, requests: list[ToDeviceRequest]) -> None:
        for request in requests:
            for user_id, devices in request.messages.items():
                for device_id, content in devices.items():
                    for target in self.machines:
                        if target.user_id == user_id and device_id in ("*", target.device_id):
                            box = self.inbox.setdefault((user_id, target.device_id), [])
                            box.append((request.event_type, sender.user_id, content))

    def deliver(self, machine: OlmMachine) -> SyncOutcome:
        events = self.inbox.pop((machine.user_id, machine.device_id), [])
        return machine.receive_sync(events)

    def share(
        self, machine: OlmMachine, room_id: str, users: list[str], settings: object = None
    ) -> None:
        from sdk.crypto.machine.rooms import RoomSettings

        self.query(machine, users)
        self.claim(machine, users)
        chosen = settings if isinstance(settings, RoomSettings) else RoomSettings()
        self.send(machine, machine.share_room_key(room_id, users, chosen))

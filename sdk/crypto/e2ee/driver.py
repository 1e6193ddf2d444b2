"""The I/O shell around `OlmMachine`: the base of `sdk.crypto.e2ee.client.E2EE`.

`DriverBase` performs, with an `AsyncClient`, the requests the machine asks for: key uploads,
key queries for outdated users, one-time key claims, to-device sends and cross-signing signature
uploads; and it saves the machine to its `CryptoStore` after every step that changed it.

Invariants: the machine is saved *before* a key upload is sent (so published private keys are
always on disk) and after every batch of changes; one lock serialises the machine's network
round trips (query, claim, share) so two sends never claim keys or rotate sessions at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Final

from core.errors import JsonDict
from core.event_types import M_ROOM_ENCRYPTION, M_ROOM_HISTORY_VISIBILITY, M_ROOM_MEMBER, Membership
from sdk.client import AsyncClient
from sdk.crypto.machine.base import ToDeviceRequest
from sdk.crypto.machine.olm_machine import OlmMachine
from sdk.crypto.protocol.devices import Device
from sdk.crypto.store import CryptoStore
from sdk.errors import MatrixRequestError

__all__ = ["DriverBase"]

logger = logging.getLogger(__name__)

_QUERY_BATCH: Final = 250


class DriverBase:
    """The machine, its store and the client it talks through."""

    def __init__(self, client: AsyncClient, machine: OlmMachine, store: CryptoStore) -> None:
        self.client = client
        self.machine = machine
        self.store = store
        self.lock = asyncio.Lock()
        self._room_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user_id={self.machine.user_id!r}, device_id={self.machine.device_id!r})"

    @property
    def user_id(self) -> str:
        return self.machine.user_id

    @property
    def device_id(self) -> str:
        return self.machine.device_id

    @property
    def ed25519(self) -> str:
        """This device's fingerprint key (unpadded Base64)."""
        return self.machine.account.ed25519

    @property
    def curve25519(self) -> str:
        """This device's Olm identity key (unpadded Base64)."""
        return self.machine.account.curve25519

    def room_lock(self, room_id: str) -> asyncio.Lock:
        """The lock serialising key sharing and encryption in one room."""
        return self._room_locks.setdefault(room_id, asyncio.Lock())

    async def save(self) -> None:
        """Persist whatever the machine changed."""
        await self.machine.save(self.store)

    async def send_to_device(self, requests: Iterable[ToDeviceRequest]) -> None:
        """Send to-device messages, each under its own transaction ID (safe to retry)."""
        for request in requests:
            await self.client.send_to_device(
                request.event_type, request.messages, txn_id=request.txn_id
            )

    async def upload_keys(self) -> None:
        """Upload device keys, one-time keys and the fallback key if the machine needs to."""
        if not self.machine.needs_key_upload():
            return
        body = self.machine.keys_upload_body()
        if body is None:
            return
        await self.save()  # private halves on disk before the public halves are published
        response = await self.client.keys_upload(
            device_keys=body.get("device_keys"),
            one_time_keys=body.get("one_time_keys"),
            fallback_keys=body.get("fallback_keys"),
        )
        self.machine.receive_keys_upload(response)
        await self.save()

    async def query_keys(self, users: Iterable[str] | None = None) -> None:
        """Query outdated tracked users (or `users`, which become tracked) and fold the result."""
        if users is not None:
            self.machine.update_tracked_users(users)
            self.machine.outdated.update(users)
        pending = self.machine.users_to_query()
        for start in range(0, len(pending), _QUERY_BATCH):
            batch = pending[start : start + _QUERY_BATCH]
            response = await self.client.keys_query({user_id: [] for user_id in batch})
            self.machine.receive_keys_query(response, batch)
        if pending:
            self.machine.retry_key_requests()
            await self.save()

    async def claim_sessions(self, devices: Iterable[Device]) -> None:
        """Create Olm sessions with devices we have none with, by claiming one-time keys."""
        claim = self.machine.missing_sessions(devices)
        if not claim:
            return
        response = await self.client.keys_claim(claim)
        created = self.machine.receive_keys_claim(response)
        wanted = sum(len(d) for d in claim.values())
        if created < wanted:
            logger.info("claimed sessions created=%d wanted=%d", created, wanted)

    async def flush(self) -> None:
        """Send everything the machine queued: Olm messages, plain to-device, signatures."""
        if self.machine.pending_olm:
            await self.claim_sessions(self.machine.pending_olm_devices())
            await self.send_to_device(self.machine.flush_olm())
        outgoing, self.machine.outgoing = self.machine.outgoing, []
        await self.send_to_device(outgoing)
        uploads, self.machine.signature_uploads = self.machine.signature_uploads, []
        for signatures in uploads:
            try:
                response = await self.client.keys_signatures_upload(signatures)
            except MatrixRequestError as exc:
                logger.warning("signature upload refused errcode=%s", exc.errcode)
                continue
            if response.get("failures"):
                logger.warning(
                    "signature upload had failures users=%s", sorted(response["failures"])
                )
        await self.save()

    def joined_members(self, room_id: str) -> list[str] | None:
        """Joined and invited members of a room from the client's state, if it knows them."""
        room = self.client.state.room(room_id)
        if room is None or not room.members:
            return None
        return room.member_ids((Membership.JOIN, Membership.INVITE))

    async def fetch_members(self, room_id: str) -> tuple[list[str], JsonDict | None, str | None]:
        """Members, `m.room.encryption` content and history visibility of a room.

        From the client's state when it has synced the room, else from `GET /state`.
        """
        room = self.client.state.room(room_id)
        members = self.joined_members(room_id)
        if room is not None and members is not None:
            visibility = room.state_event(M_ROOM_HISTORY_VISIBILITY)
            value = visibility.content.get("history_visibility") if visibility else None
            return members, room.encryption, value if isinstance(value, str) else None
        users: list[str] = []
        encryption: JsonDict | None = None
        history: str | None = None
        for event in await self.client.get_state(room_id):
            content = event.get("content") or {}
            if event.get("type") == M_ROOM_MEMBER and content.get("membership") in (
                "join",
                "invite",
            ):
                users.append(str(event.get("state_key")))
            elif event.get("type") == M_ROOM_ENCRYPTION:
                encryption = content
            elif event.get("type") == M_ROOM_HISTORY_VISIBILITY:
                history = content.get("history_visibility")
        return sorted(users), encryption, history

"""Helpers for the live end-to-end encryption tests: encrypted clients and sync pumping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sdk.client import AsyncClient
from sdk.crypto.e2ee.client import E2EE
from sdk.events import RoomEvent
from sdk.state import Room
from sdk.store import Store
from tests.waiting import wait_for

PASSWORD = "correct horse battery staple"


@dataclass
class Peer:
    """A registered client with E2EE installed and the timeline events it has seen."""

    client: AsyncClient
    e2ee: E2EE
    events: list[RoomEvent] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        assert self.client.user_id is not None
        return self.client.user_id

    @property
    def device_id(self) -> str:
        assert self.client.device_id is not None
        return self.client.device_id

    def texts(self, room_id: str) -> list[str]:
        """Bodies of the decrypted messages seen in a room."""
        return [
            e.content.get("body", "")
            for e in self.events
            if e.room_id == room_id and e.type == "m.room.message" and e.encrypted is not None
        ]


MakePeer = Callable[..., Awaitable[Peer]]


@asynccontextmanager
async def peers(url: str) -> AsyncIterator[MakePeer]:
    """Yields `make(name, login=False, store=None, passphrase=None)`: an encrypted client.

    With `login=True` the user must exist and a new device logs in; else the user registers.
    """
    clients: list[AsyncClient] = []

    async def make(
        name: str, *, login: bool = False, store: Store | None = None, passphrase: str | None = None
    ) -> Peer:
        client = AsyncClient(url, store=store)
        clients.append(client)
        if login:
            await client.login(name, PASSWORD)
        else:
            await client.register(name, PASSWORD)
        e2ee = await E2EE.install(client, passphrase=passphrase)
        peer = Peer(client, e2ee)

        async def record(room: Room, event: RoomEvent) -> None:
            del room
            peer.events.append(event)

        client.add_event_callback(record)
        await client.sync()
        return peer

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


async def sync_all(*clients: Peer, rounds: int = 1) -> None:
    """One short sync of every peer, `rounds` times."""
    for _ in range(rounds):
        for peer in clients:
            await peer.client.sync(timeout_ms=0)


async def sync_until(peers_: list[Peer], done: Callable[[], bool]) -> None:
    """Sync every peer until `done()` holds (for up to `PATIENCE_S`)."""

    async def synced_and_done() -> bool:
        if done():
            return True
        await sync_all(*peers_)
        return done()

    await wait_for(synced_and_done, what="a condition reached by syncing")

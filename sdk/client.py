"""`AsyncClient`: the SDK's aiohttp client around the sans-I/O core.

It owns a `ClientState` advanced by every sync, an optional local `Store`, the registered
callbacks, and an optional crypto layer installed as `client.crypto` (`sdk.hooks.CryptoHooks`).

The order of work for each sync response is fixed: fold it into `state`; run `crypto.on_sync`
(if it raises, the token is rolled back so nothing is acknowledged); dispatch to-device events,
invites and timeline events (each `m.room.encrypted` event through `crypto.decrypt` first, an
undecryptable one as an `UndecryptableEvent`, never dropped); persist the token with the state
changes to the store; run sync callbacks. A restart therefore never skips an event, though it may
dispatch the last batch again.

Sending into a room known (or, before its first sync, found) to be encrypted always goes through
`crypto.encrypt`; without a crypto layer it raises `EncryptionRequiredError` rather than leak
plaintext.

Messages expire on the client as on the server (`sdk.api_expiry`): after each sync, and on a
timer while `sync_forever` runs, expired, self-destructed and redacted messages are dropped from
the timelines, the store and the local search index, and the expiry callbacks are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any

import aiohttp

from core.errors import JsonDict
from core.event_types import (
    M_ROOM_CREATE,
    M_ROOM_ENCRYPTED,
    M_ROOM_ENCRYPTION,
    M_ROOM_MESSAGE,
    M_ROOM_REDACTION,
)
from sdk import requests
from sdk.api_expiry import ExpiryApi
from sdk.api_keys import KeysApi
from sdk.api_media import MediaApi
from sdk.api_rooms import RoomsApi
from sdk.api_session import SessionApi
from sdk.callbacks import Callbacks, EventFilter
from sdk.errors import (
    DecryptionError,
    EncryptionRequiredError,
    LimitExceededError,
    LocalProtocolError,
    MatrixRequestError,
    NotFoundError,
)
from sdk.events import RoomEvent, UndecryptableEvent, undecryptable
from sdk.hooks import (
    CryptoHooks,
    EventCallback,
    IndexSealing,
    InviteCallback,
    SyncCallback,
    ToDeviceCallback,
)
from sdk.http import HttpTransport, RetryPolicy
from sdk.responses import SyncResponse, parse_event_id, parse_sync
from sdk.search import IndexSealer, LocalSearch
from sdk.state import SyncChanges
from sdk.store import Store

__all__ = ["AsyncClient"]

logger = logging.getLogger(__name__)


class AsyncClient(SessionApi, RoomsApi, MediaApi, KeysApi, ExpiryApi):
    """An asynchronous Matrix client for one account and device.

    Attributes:
        crypto: The end-to-end encryption layer, once installed.
        local_search: The index of decrypted messages, once `enable_search` was called.
        store: The local store, if one was given.
        state: What the client knows from sync.
        last_sync_changes: What the latest sync changed (for the crypto layer).
    """

    def __init__(
        self,
        homeserver_url: str,
        *,
        store: Store | None = None,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Create a client; nothing is sent until a login.

        Args:
            homeserver_url: The homeserver's base URL, e.g. `http://localhost:8008`.
            store: A local store to resume sync from and persist state to (caller closes it).
            session: An aiohttp session to use (caller closes it); else the client makes one.
            retry: Retry and backoff settings.
        """
        super().__init__(HttpTransport(homeserver_url, session=session, retry=retry), store)
        self.crypto: CryptoHooks | None = None
        self.local_search: LocalSearch | None = None
        self.last_sync_changes: SyncChanges | None = None
        self._callbacks = Callbacks()
        self._store_behind = False
        self._init_expiry()

    def __repr__(self) -> str:
        return f"AsyncClient({self.homeserver_url!r}, user_id={self.user_id!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if the client created it (the store is the caller's)."""
        await self._http.close()

    @property
    def next_batch(self) -> str | None:
        """The token the next sync starts from."""
        return self.state.next_batch

    # Sending ---------------------------------------------------------------------------------

    async def room_send(
        self,
        room_id: str,
        event_type: str,
        content: JsonDict,
        *,
        txn_id: str | None = None,
        cleartext: JsonDict | None = None,
    ) -> str:
        """Send a message event (encrypted when the room is); return its event ID.

        Retries on 429 and on 5xx/network errors reuse the transaction ID, so the event is
        sent at most once.

        Args:
            room_id: The room.
            event_type: The event type (the cleartext type when the room is encrypted).
            content: The content (encrypted when the room is).
            txn_id: The transaction ID (a new one if None).
            cleartext: Fields the server must read even in an encrypted room, put beside the
                ciphertext (the self-destruct fields); merged into `content` otherwise.

        Raises:
            EncryptionRequiredError: The room is encrypted and no crypto layer is installed.
        """
        if await self.is_encrypted(room_id):
            if self.crypto is None:
                raise EncryptionRequiredError(f"room {room_id} is encrypted; no crypto installed")
            content = await self.crypto.encrypt(room_id, event_type, content)
            event_type = M_ROOM_ENCRYPTED
        if cleartext:
            content = {**content, **cleartext}
        request = requests.send_message(room_id, event_type, txn_id or self.new_txn_id(), content)
        return parse_event_id(await self._http.json(request))

    async def send_text(self, room_id: str, body: str, *, msgtype: str = "m.text") -> str:
        """Send an `m.room.message` with a plain-text body; return its event ID."""
        return await self.room_send(room_id, M_ROOM_MESSAGE, {"msgtype": msgtype, "body": body})

    async def is_encrypted(self, room_id: str) -> bool:
        """Whether messages to the room must be encrypted: per sync state, the crypto layer,
        or, for a room not synced yet, the server's `m.room.encryption` state."""
        if self.state.is_encrypted(room_id):
            return True
        if self.crypto is not None and self.crypto.is_room_encrypted(room_id):
            return True
        room = self.state.room(room_id)
        if room is not None and room.state_event(M_ROOM_CREATE) is not None:
            return False
        # Not synced yet: ask the server rather than risk sending plaintext.
        try:
            content = await self.get_state_event(room_id, M_ROOM_ENCRYPTION)
        except NotFoundError:
            return False
        self.state.mark_encrypted(room_id, content)
        return self.state.is_encrypted(room_id)

    # Sync ------------------------------------------------------------------------------------

    async def sync(
        self,
        timeout_ms: int = 0,
        *,
        full_state: bool = False,
        sync_filter: str | None = None,
        set_presence: str | None = None,
    ) -> SyncResponse:
        """Sync once from `next_batch`, process the response (see the module doc) and return it."""
        response = await self._fetch_sync(timeout_ms, full_state, sync_filter, set_presence)
        await self._process_sync(response)
        return response

    async def _fetch_sync(
        self, timeout_ms: int, full_state: bool, sync_filter: str | None, set_presence: str | None
    ) -> SyncResponse:
        request = requests.sync(
            self.state.next_batch,
            timeout_ms=timeout_ms,
            full_state=full_state,
            sync_filter=sync_filter,
            set_presence=set_presence,
        )
        return parse_sync(await self._http.json(request))

    async def _process_sync(self, response: SyncResponse) -> None:
        previous = self.state.next_batch
        changes = self.state.apply_sync(response)
        self.last_sync_changes = changes
        if self.crypto is not None:
            try:
                await self.crypto.on_sync(response)
            except BaseException:
                self.state.next_batch = previous
                raise
        await self._dispatch(response)
        if self.store is not None:
            # After a failed write, the next one writes everything, not just its own changes.
            pending = self.state.everything() if self._store_behind else changes
            self._store_behind = True
            await self.store.save_sync(self.state, pending)
            self._store_behind = False
        await self._track_sync(response)
        await self.expire_due()
        await self._callbacks.emit_sync(response)

    async def _dispatch(self, response: SyncResponse) -> None:
        for to_device in response.to_device:
            await self._callbacks.emit_to_device(to_device)
        for room_id in response.rooms.invite:
            await self._callbacks.emit_invite(self.state.rooms[room_id])
        if not self._callbacks.wants_events and self.local_search is None:
            return
        timelines = [(r, s.timeline) for r, s in response.rooms.join.items()]
        timelines += [(r, s.timeline) for r, s in response.rooms.leave.items()]
        searchable: list[RoomEvent] = []
        for room_id, timeline in timelines:
            room = self.state.rooms[room_id]
            for event in timeline.events:
                shown = await self.decrypt_event(event)
                if shown.decrypted or shown.type == M_ROOM_REDACTION:
                    searchable.append(shown)
                await self._callbacks.emit_event(room, shown)
        await self._index(searchable)

    async def _index(self, events: list[RoomEvent]) -> None:
        """Feed decrypted messages and redactions to the local index; it is a cache, so a
        failure is logged rather than failing the sync."""
        if self.local_search is None or not events:
            return
        try:
            await self.local_search.add(events)
        except Exception as exc:
            logger.warning("local search indexing failed error=%s", type(exc).__name__)

    async def decrypt_event(self, event: RoomEvent) -> RoomEvent:
        """The decrypted view of an `m.room.encrypted` event, or an `UndecryptableEvent`
        saying why not; other events are returned as they are."""
        if event.type != M_ROOM_ENCRYPTED or isinstance(event, UndecryptableEvent):
            return event
        if self.crypto is None:
            return undecryptable(event, DecryptionError("no crypto layer installed"))
        try:
            return await self.crypto.decrypt(event)
        except DecryptionError as exc:
            return undecryptable(event, exc)
        except Exception as exc:
            logger.warning(
                "decryption failed event_id=%s error=%s", event.event_id, type(exc).__name__
            )
            error = DecryptionError(str(exc) or type(exc).__name__)
            error.__cause__ = exc
            return undecryptable(event, error)

    async def sync_forever(
        self,
        timeout_ms: int = 30_000,
        stop: asyncio.Event | None = None,
        *,
        sync_filter: str | None = None,
        set_presence: str | None = None,
    ) -> None:
        """Sync until `stop` is set, backing off exponentially while syncs fail.

        The first sync without a token does not wait. Setting `stop` cancels a pending long
        poll at once, but never the processing of a response already received.

        Raises:
            MatrixRequestError: The server refused the sync itself with a 4xx other than 429
                (e.g. `UnknownTokenError`): retrying cannot help.
        """
        stop = stop if stop is not None else asyncio.Event()
        expiring = asyncio.create_task(self._expire_loop(stop), name="message-expiry")
        try:
            await self._sync_loop(timeout_ms, stop, sync_filter, set_presence)
        finally:
            expiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expiring

    async def _sync_loop(
        self,
        timeout_ms: int,
        stop: asyncio.Event,
        sync_filter: str | None,
        set_presence: str | None,
    ) -> None:
        failures = 0
        while not stop.is_set():
            poll_ms = 0 if self.state.next_batch is None else timeout_ms
            fetch = asyncio.ensure_future(
                self._fetch_sync(poll_ms, False, sync_filter, set_presence)
            )
            if not await _first_or_stop(fetch, stop):
                return
            try:
                response = fetch.result()
                await self._process_sync(response)
            except MatrixRequestError as exc:
                if 400 <= exc.status < 500 and not isinstance(exc, LimitExceededError):
                    raise
                failures += 1
                logger.warning("sync failed errcode=%s failures=%d", exc.errcode, failures)
            except Exception as exc:
                failures += 1
                logger.warning("sync failed error=%s failures=%d", type(exc).__name__, failures)
            else:
                failures = 0
                continue
            delay = self._http.retry.backoff(failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    # Local search ----------------------------------------------------------------------------

    async def enable_search(self, sealer: IndexSealer | None = None) -> LocalSearch:
        """Keep a full-text index of the messages this client decrypts, in its store, for
        `search` (the server cannot search encrypted rooms).

        Args:
            sealer: Seals the index; by default the crypto layer's (sealed when its store has
                a passphrase), so decrypted text is never on disk in the clear when the keys
                are not either.

        Raises:
            LocalProtocolError: The client has no store.
        """
        if self.store is None:
            raise LocalProtocolError("a local store is needed for the search index")
        if sealer is None and isinstance(self.crypto, IndexSealing):
            sealer = self.crypto.index_sealer()
        self.local_search = await LocalSearch.open(self.store, sealer)
        return self.local_search

    async def search(
        self,
        term: str,
        *,
        rooms: list[str] | tuple[str, ...] | None = None,
        limit: int = 10,
        order_by: str = "rank",
        next_batch: str | None = None,
    ) -> JsonDict:
        """Search the messages this client decrypted; answered in the shape of the server's
        `POST /search` (`search_categories.room_events`: `results`, `count`, `highlights`,
        `next_batch`). For rooms that are not encrypted, `server_search` asks the server.

        Raises:
            LocalProtocolError: `enable_search` was not called.
            sdk.search.SearchError: A bad `order_by` or `next_batch`.
        """
        if self.local_search is None:
            raise LocalProtocolError("call enable_search first")
        return await self.local_search.search(
            term, rooms=rooms, limit=limit, order_by=order_by, next_batch=next_batch
        )

    # Callbacks -------------------------------------------------------------------------------

    def add_event_callback(
        self, callback: EventCallback, event_type_filter: EventFilter = None
    ) -> None:
        """Call `callback(room, event)` for each timeline event passing the filter.

        Args:
            callback: A function or coroutine function of (`Room`, `RoomEvent`).
            event_type_filter: An event type (`"m.room.message"`; matched after decryption),
                an event class (`UndecryptableEvent`), a tuple of them, or None for all.
        """
        self._callbacks.add_event(callback, event_type_filter)

    def remove_event_callback(self, callback: EventCallback) -> None:
        """Unregister an event callback."""
        self._callbacks.remove_event(callback)

    def add_invite_callback(self, callback: InviteCallback) -> None:
        """Call `callback(room)` when we are invited to a room (`room.invite_state`)."""
        self._callbacks.add_invite(callback)

    def add_to_device_callback(
        self, callback: ToDeviceCallback, event_types: tuple[str, ...] | None = None
    ) -> None:
        """Call `callback(event)` for to-device events (after `crypto.on_sync`)."""
        self._callbacks.add_to_device(callback, event_types)

    def add_sync_callback(self, callback: SyncCallback) -> None:
        """Call `callback(response)` after each processed sync."""
        self._callbacks.add_sync(callback)


async def _first_or_stop(fetch: asyncio.Future[SyncResponse], stop: asyncio.Event) -> bool:
    """Wait for `fetch` or `stop`; False (with `fetch` cancelled) if `stop` came first."""
    stopper = asyncio.ensure_future(stop.wait())
    pending: set[asyncio.Future[Any]] = {fetch, stopper}
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
    return fetch.done() and not fetch.cancelled()

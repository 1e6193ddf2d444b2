"""The keyring against local TLS key servers: self-signatures, validity, caching, notaries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from core.errors import JsonDict
from core.identifiers import ServerName
from core.signing import SignatureError, SigningKey, generate_signing_key, sign_json
from federation.keyring import KeyLookupError, Keyring, Notary
from federation.ports import StoredServerKey
from federation.server_keys import MAX_KEY_VALIDITY_MS, OldVerifyKey, server_key_document
from tests.federation.conftest import MakeClient
from tests.federation.helpers import MemoryKeyStore, TestClock, tls_server
from tests.federation.tls import TestCA

ORIGIN = ServerName("origin.test")
NOTARY = ServerName("notary.test")
HOUR = 3600_000


@dataclass
class KeyServer:
    """A server's key endpoints; the test sets what they answer."""

    name: ServerName
    document: JsonDict | None = None
    status: int = 200
    query_answer: list[JsonDict] = field(default_factory=list)
    server_hits: int = 0
    query_hits: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_matrix/key/v2/server", self.server)
        app.router.add_post("/_matrix/key/v2/query", self.query)
        return app

    async def server(self, _: web.Request) -> web.Response:
        self.server_hits += 1
        if self.status != 200 or self.document is None:
            return web.json_response({"errcode": "M_NOT_FOUND", "error": "x"}, status=404)
        return web.json_response(self.document)

    async def query(self, request: web.Request) -> web.Response:
        self.query_hits += 1
        await request.json()
        return web.json_response({"server_keys": self.query_answer})


@dataclass
class World:
    origin: KeyServer
    notary: KeyServer
    overrides: dict[str, str]


@pytest.fixture
async def world(ca: TestCA) -> AsyncIterator[World]:
    origin, notary = KeyServer(ORIGIN), KeyServer(NOTARY)
    async with AsyncExitStack() as stack:
        origin_port = await stack.enter_async_context(tls_server(origin.app(), ca, ORIGIN))
        notary_port = await stack.enter_async_context(tls_server(notary.app(), ca, NOTARY))
        yield World(
            origin,
            notary,
            {ORIGIN: f"127.0.0.1:{origin_port}", NOTARY: f"127.0.0.1:{notary_port}"},
        )


def _keyring(
    world: World,
    make_client: MakeClient,
    clock: TestClock,
    store: MemoryKeyStore | None = None,
    notaries: tuple[Notary, ...] = (),
    local: tuple[StoredServerKey, ...] = (),
) -> Keyring:
    return Keyring(
        store=store or MemoryKeyStore(),
        client=make_client(overrides=world.overrides),
        clock=clock,
        notaries=notaries,
        local_keys=local,
    )


def _event(key: SigningKey, ts: int, server: str = ORIGIN) -> JsonDict:
    return sign_json({"type": "m.room.message", "origin_server_ts": ts}, server, key)


async def test_keys_are_fetched_verified_and_cached(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    store = MemoryKeyStore()
    keyring = _keyring(world, make_client, clock, store)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert world.origin.server_hits == 1
    stored = store.keys[(ORIGIN, "ed25519:k1")]
    assert (stored.valid_until_ts, stored.fetched_from) == (clock.now_ms + HOUR, ORIGIN)
    # A fresh keyring on the same store needs no fetch.
    again = _keyring(world, make_client, clock, store)
    await again.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert world.origin.server_hits == 1


async def test_a_forged_self_signature_is_never_accepted(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key, forger = generate_signing_key("k1"), generate_signing_key("k1")
    unsigned = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    del unsigned["signatures"]
    world.origin.document = sign_json(unsigned, ORIGIN, forger)
    store = MemoryKeyStore()
    keyring = _keyring(world, make_client, clock, store)
    for signer in (key, forger):
        with pytest.raises(KeyLookupError):
            await keyring.verify_json_for_server(ORIGIN, _event(signer, clock.now_ms), clock.now_ms)
    assert store.keys == {}


async def test_a_bad_signature_with_a_good_key_fails(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    keyring = _keyring(world, make_client, clock)
    event = _event(key, clock.now_ms)
    event["content"] = {"tampered": True}
    with pytest.raises(SignatureError):
        await keyring.verify_json_for_server(ORIGIN, event, clock.now_ms)
    with pytest.raises(SignatureError):
        await keyring.verify_json_for_server(ORIGIN, {"unsigned": 1}, clock.now_ms)


async def test_an_expired_key_only_verifies_what_it_signed_while_valid(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms - 1000)
    keyring = _keyring(world, make_client, clock)
    old_event = _event(key, clock.now_ms - 5000)
    await keyring.verify_json_for_server(ORIGIN, old_event, clock.now_ms - 5000)
    with pytest.raises(KeyLookupError):
        await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)


async def test_a_cached_key_past_its_validity_is_fetched_again(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    keyring = _keyring(world, make_client, clock)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    clock.advance(2 * HOUR)
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert world.origin.server_hits == 2


class CountingStore(MemoryKeyStore):
    """A `MemoryKeyStore` that counts reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_server_keys(
        self, server_name: ServerName, key_ids: Collection[str]
    ) -> Mapping[str, StoredServerKey]:
        self.reads += 1
        return await super().get_server_keys(server_name, key_ids)


async def test_a_stored_key_is_kept_in_memory_while_it_is_valid(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    store = CountingStore()
    keyring = _keyring(world, make_client, clock, store)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    reads = store.reads
    for _ in range(5):
        await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert store.reads == reads
    # Needed past its validity: read from the store again, and fetched anew.
    clock.advance(2 * HOUR)
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert store.reads > reads
    assert world.origin.server_hits == 2
    reads = store.reads  # the fetched key was read back as stored, and is kept again
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert store.reads == reads


async def test_validity_is_capped_at_seven_days(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + 400 * 24 * HOUR)
    store = MemoryKeyStore()
    keyring = _keyring(world, make_client, clock, store)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert store.keys[(ORIGIN, "ed25519:k1")].valid_until_ts == clock.now_ms + MAX_KEY_VALIDITY_MS


async def test_old_verify_keys_verify_until_they_expired(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    new, old = generate_signing_key("new"), generate_signing_key("old")
    expired = clock.now_ms - HOUR
    world.origin.document = server_key_document(
        ORIGIN, new, clock.now_ms + HOUR, [OldVerifyKey(old.verify_key, expired)]
    )
    keyring = _keyring(world, make_client, clock)
    await keyring.verify_json_for_server(ORIGIN, _event(old, expired - 1), expired - 1)
    with pytest.raises(KeyLookupError):
        await keyring.verify_json_for_server(ORIGIN, _event(old, expired + 1), expired + 1)


async def test_concurrent_lookups_share_one_fetch(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    keyring = _keyring(world, make_client, clock)
    await asyncio.gather(
        *(
            keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
            for _ in range(5)
        )
    )
    assert world.origin.server_hits == 1


async def test_a_failing_origin_is_left_alone_for_a_while(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key = generate_signing_key("k1")
    keyring = _keyring(world, make_client, clock)
    for _ in range(2):
        with pytest.raises(KeyLookupError):
            await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert world.origin.server_hits == 1
    clock.advance(11_000)
    world.origin.document = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert world.origin.server_hits == 2


async def test_local_keys_need_no_lookup(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    ours = generate_signing_key("mine")
    local = StoredServerKey(
        ServerName("us.test"), ours.verify_key, 2**53 - 1, ServerName("us.test")
    )
    keyring = _keyring(world, make_client, clock, local=(local,))
    event = _event(ours, clock.now_ms, server="us.test")
    await keyring.verify_json_for_server(ServerName("us.test"), event, clock.now_ms)


def _relayed(origin_doc: JsonDict, notary_key: SigningKey) -> JsonDict:
    return sign_json(origin_doc, NOTARY, notary_key)


async def test_notary_fallback_with_a_pinned_key(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key, notary_key = generate_signing_key("k1"), generate_signing_key("n1")
    world.origin.status = 404
    world.notary.query_answer = [
        _relayed(server_key_document(ORIGIN, key, clock.now_ms + HOUR), notary_key)
    ]
    store = MemoryKeyStore()
    pinned = Notary(NOTARY, {notary_key.key_id: notary_key.verify_key})
    keyring = _keyring(world, make_client, clock, store, notaries=(pinned,))
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert world.notary.query_hits == 1
    assert store.keys[(ORIGIN, "ed25519:k1")].fetched_from == NOTARY


async def test_notary_answers_need_both_signatures(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key, notary_key = generate_signing_key("k1"), generate_signing_key("n1")
    impostor = generate_signing_key("n1")
    origin_doc = server_key_document(ORIGIN, key, clock.now_ms + HOUR)
    forged_origin = {k: v for k, v in origin_doc.items() if k != "signatures"}
    forged_origin = sign_json(forged_origin, ORIGIN, generate_signing_key("k1"))
    pinned = Notary(NOTARY, {notary_key.key_id: notary_key.verify_key})
    world.origin.status = 404
    for answer in (
        _relayed(origin_doc, impostor),  # the notary's signature is forged
        origin_doc,  # the notary did not sign
        _relayed(forged_origin, notary_key),  # the origin's self-signature is forged
        _relayed(server_key_document("other.test", key, clock.now_ms + HOUR), notary_key),
    ):
        world.notary.query_answer = [answer]
        store = MemoryKeyStore()
        keyring = _keyring(world, make_client, clock, store, notaries=(pinned,))
        with pytest.raises(KeyLookupError):
            await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
        assert store.keys == {}


async def test_unpinned_notary_keys_come_from_the_notary_itself(
    world: World, make_client: MakeClient, clock: TestClock
) -> None:
    key, notary_key = generate_signing_key("k1"), generate_signing_key("n1")
    world.origin.status = 404
    world.notary.document = server_key_document(NOTARY, notary_key, clock.now_ms + HOUR)
    world.notary.query_answer = [
        _relayed(server_key_document(ORIGIN, key, clock.now_ms + HOUR), notary_key)
    ]
    keyring = _keyring(world, make_client, clock, notaries=(Notary(NOTARY),))
    await keyring.verify_json_for_server(ORIGIN, _event(key, clock.now_ms), clock.now_ms)
    assert (world.notary.server_hits, world.notary.query_hits) == (1, 1)

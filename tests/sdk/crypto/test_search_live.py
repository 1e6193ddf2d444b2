"""Searching encrypted rooms with the SDK's local index on a live Tessera (both backends): the
server cannot find what it only holds as ciphertext, the client finds what it decrypted, in the
server's answer shape, with redactions applied, and its sealed store holds no word of it;
plaintext rooms are the server's to search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdk.store import Store
from tests.conftest import LiveServer
from tests.sdk.crypto.helpers import peers, sync_all, sync_until
from tests.waiting import wait_for


def _bodies(body: dict[str, Any]) -> list[str]:
    results = body["search_categories"]["room_events"]["results"]
    return [r["result"]["content"]["body"] for r in results]


async def test_local_search_of_decrypted_messages(server: LiveServer, tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bob.db")
    try:
        async with peers(server.url) as make:
            alice = await make("alice")
            bob = await make("bob", store=store, passphrase="bob's local secret")
            index = await bob.client.enable_search()
            assert index is bob.client.local_search
            secret = await alice.client.create_room(invite=[bob.user_id], encrypted=True)
            plain = await alice.client.create_room(invite=[bob.user_id])
            await sync_all(bob)
            await bob.client.join(secret)
            await bob.client.join(plain)
            await sync_all(alice, bob)
            first = await alice.client.send_text(secret, "the treasure is under the old oak")
            await alice.client.send_text(secret, "bring a shovel for the treasure")
            await alice.client.send_text(plain, "treasure hunts are fun")
            await sync_until([alice, bob], lambda: len(bob.texts(secret)) == 2)

            local = await bob.client.search("treasure", order_by="recent")
            assert _bodies(local) == [
                "bring a shovel for the treasure",
                "the treasure is under the old oak",
            ]
            events = local["search_categories"]["room_events"]
            assert events["count"] == 2
            assert events["highlights"] == ["treasure"]
            assert {r["result"]["room_id"] for r in events["results"]} == {secret}

            # The server holds ciphertext only: it finds the plaintext room's message alone.
            async def server_finds() -> bool:
                found = await bob.client.server_search("treasure")
                return _bodies(found) == ["treasure hunts are fun"]

            await wait_for(server_finds, what="the server's index")
            assert _bodies(await bob.client.server_search("treasure", rooms=[secret])) == []

            await alice.client.redact(secret, first)

            async def redacted_out() -> bool:
                await sync_all(bob)
                return _bodies(await bob.client.search("oak")) == []

            await wait_for(redacted_out, what="the redaction in the local index")
            remaining = _bodies(await bob.client.search("treasure"))
            assert remaining == ["bring a shovel for the treasure"]
    finally:
        await store.close()
    data = (tmp_path / "bob.db").read_bytes()
    wal = tmp_path / "bob.db-wal"
    data += wal.read_bytes() if wal.exists() else b""
    assert b"shovel" not in data

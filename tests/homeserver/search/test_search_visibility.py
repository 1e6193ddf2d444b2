"""What `/search` may return: membership and history visibility, redactions, encrypted rooms,
and the indexer catching up after a restart; live servers on both backends."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import aiohttp

from core.identifiers import EventId
from homeserver.api.http import SERVICES
from homeserver.app.app_keys import STORES
from tests.conftest import LiveServer, serving
from tests.homeserver.search.helpers import indexed, search_config, searcher


async def test_membership_decides_what_is_found(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        bob = await searcher(http, server, "bob")
        carol = await searcher(http, server, "carol")
        room = await alice.create_room(preset="public_chat")
        await alice.send(room, "zebra before bob")
        await bob.join(room)
        await alice.send(room, "zebra while bob is here")
        await bob.leave(room)
        await alice.send(room, "zebra after bob left")
        await indexed(server)

        everything = await alice.bodies("zebra", order_by="recent")
        assert everything == ["zebra after bob left", "zebra while bob is here", "zebra before bob"]
        # Shared history: bob sees what came before his join, nothing after he left.
        assert await bob.bodies("zebra", order_by="recent") == [
            "zebra while bob is here",
            "zebra before bob",
        ]
        assert (await bob.found("zebra"))["count"] == 2
        # Never in the room (though it is public): nothing, and no hint of a count.
        nothing = await carol.found("zebra")
        assert (nothing["results"], nothing["count"]) == ([], 0)
        # A forgotten room is out of reach too.
        await bob.ok("POST", f"/rooms/{quote(room)}/forget", {})
        assert await bob.bodies("zebra") == []


async def test_history_visibility_joined(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        bob = await searcher(http, server, "bob")
        room = await alice.create_room(preset="public_chat")
        await alice.visibility(room, "joined")
        await alice.send(room, "walrus before the join")
        await bob.join(room)
        await alice.send(room, "walrus after the join")
        await indexed(server)
        assert await bob.bodies("walrus") == ["walrus after the join"]
        # The page is filled past the hidden match, and the count is only an estimate.
        found = await bob.found("walrus", filter={"limit": 1}, order_by="recent")
        assert [r["result"]["content"]["body"] for r in found["results"]] == [
            "walrus after the join"
        ]


async def test_redacted_messages_disappear(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        room = await alice.create_room()
        secret = await alice.send(room, "the launch code is pineapple")
        await alice.send(room, "pineapple pizza")
        await indexed(server)
        assert len(await alice.bodies("pineapple")) == 2
        await alice.ok("PUT", f"/rooms/{quote(room)}/redact/{quote(secret)}/r1", {"reason": "x"})
        await indexed(server)
        assert await alice.bodies("pineapple") == ["pineapple pizza"]
        assert await alice.bodies("launch code") == []
        stores = server.app[STORES]
        assert await stores.search.entries([EventId(secret)]) == {}
        assert await stores.search.orphan_count() == 0


async def test_retention_delete_takes_events_out(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        room = await alice.create_room()
        doomed = await alice.send(room, "ephemeral kiwi")
        await alice.send(room, "lasting kiwi")
        await indexed(server)
        indexer = server.app[SERVICES].search_index
        assert await indexer.delete([EventId(doomed), EventId(doomed), EventId("$unknown:x")]) == 1
        assert await alice.bodies("kiwi") == ["lasting kiwi"]
        assert await server.app[STORES].search.orphan_count() == 0


async def test_encrypted_rooms_are_not_indexed(server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await searcher(http, server, "alice")
        room = await alice.create_room()
        await alice.send(room, "mango in the clear")
        await indexed(server)
        await alice.set_state(room, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})
        await alice.send(room, "mango sent in plaintext after encryption")
        await alice.ok(
            "PUT",
            f"/rooms/{quote(room)}/send/m.room.encrypted/e1",
            {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "mango", "session_id": "s"},
        )
        await indexed(server)
        assert await alice.bodies("mango") == ["mango in the clear"]


async def test_disabled_search_and_catching_up(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    off_config = search_config(database_url, data, enabled=False)
    async with serving(off_config) as off, aiohttp.ClientSession() as http:
        alice = await searcher(http, off, "alice")
        room = await alice.create_room()
        await alice.send(room, "durian while search was off")
        status, body = await alice.search("durian")
        assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED")
        assert off.app[SERVICES].search_index.processed_position() == 0
    async with serving(search_config(database_url, data)) as on, aiohttp.ClientSession() as http:
        alice.http, alice.base = http, on.url
        await indexed(on)
        assert await alice.bodies("durian") == ["durian while search was off"]

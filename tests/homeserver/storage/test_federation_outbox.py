"""The federation outbox on both backends: a destination's oldest PDUs and EDUs, each kind
up to its own limit, in queue order."""

from __future__ import annotations

from core.identifiers import ServerName
from federation.ports import EDU, PDU, NewOutbound
from homeserver.storage.factory import Stores

REMOTE = ServerName("remote.test")
OTHER = ServerName("other.test")
NOW = 1_700_000_000_000


async def test_pending_reads_each_kind_up_to_its_limit_in_queue_order(stores: Stores) -> None:
    outbox = stores.federation_outbox
    items = []
    for n in range(6):
        kind = PDU if n % 2 == 0 else EDU
        items.append(NewOutbound(REMOTE, kind, {"n": n}, "!room:hs" if kind == PDU else None))
        items.append(NewOutbound(OTHER, kind, {"n": n}))
    await outbox.add(items, NOW)

    found = await outbox.pending(REMOTE, 2, 1)

    assert [(item.kind, item.payload["n"]) for item in found] == [(PDU, 0), (EDU, 1), (PDU, 2)]
    assert [item.id for item in found] == sorted(item.id for item in found)
    await outbox.remove(REMOTE, [found[0].id, found[1].id])
    rest = await outbox.pending(REMOTE, 50, 100)
    assert [(item.kind, item.payload["n"]) for item in rest] == [
        (PDU, 2),
        (EDU, 3),
        (PDU, 4),
        (EDU, 5),
    ]
    assert await outbox.pending(ServerName("nobody.test"), 50, 100) == []

"""SRV lookups through dnspython against a tiny DNS server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import cast

import dns.message
import dns.rcode
import dns.rrset
import pytest

from federation.discovery import DnsSrvResolver, SrvRecord

ZONE = {
    "_matrix-fed._tcp.example.test.": [
        "10 5 8448 fed.example.test.",
        "20 0 8449 backup.example.test.",
    ],
}


class _DnsServer(asyncio.DatagramProtocol):
    """Answers SRV questions from `ZONE`; NXDOMAIN otherwise; counts queries."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        records = ZONE.get(question.name.to_text())
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, "IN", "SRV", records)
            )
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_server() -> AsyncIterator[tuple[_DnsServer, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _DnsServer, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        yield protocol, port
    finally:
        transport.close()


async def test_srv_records_are_read_and_cached(dns_server: tuple[_DnsServer, int]) -> None:
    server, port = dns_server
    resolver = DnsSrvResolver(nameservers=["127.0.0.1"], port=port, lifetime_s=5)
    expected = [
        SrvRecord(10, 5, 8448, "fed.example.test"),
        SrvRecord(20, 0, 8449, "backup.example.test"),
    ]
    assert (
        sorted(
            await resolver.resolve_srv("_matrix-fed._tcp.example.test"), key=lambda r: r.priority
        )
        == expected
    )
    await resolver.resolve_srv("_matrix-fed._tcp.example.test")
    assert server.queries == 1  # the second answer came from the TTL cache


async def test_missing_names_are_no_records(dns_server: tuple[_DnsServer, int]) -> None:
    _, port = dns_server
    resolver = DnsSrvResolver(nameservers=["127.0.0.1"], port=port, lifetime_s=5)
    assert await resolver.resolve_srv("_matrix._tcp.example.test") == []


async def test_unreachable_name_servers_are_no_records() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # Bound but never answering: the lookup times out.
        resolver = DnsSrvResolver(nameservers=["127.0.0.1"], port=port, lifetime_s=0.3)
        assert await resolver.resolve_srv("_matrix-fed._tcp.example.test") == []

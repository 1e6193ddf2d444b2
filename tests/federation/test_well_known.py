"""`.well-known/matrix/server` lookups against a local TLS server: caching, redirects, limits."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from federation.ip_policy import IpPolicy
from tests.federation.conftest import MakeClient
from tests.federation.helpers import StaticResolver, TestClock, tls_server
from tests.federation.tls import TestCA

WK = "/.well-known/matrix/server"


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _app(handler: Callable[[web.Request], web.StreamResponse], hits: list[str]) -> web.Application:
    async def counted(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return handler(request)

    app = web.Application()
    app.router.add_get("/{tail:.*}", counted)
    return app


async def test_delegation_is_read_and_cached_per_cache_control(
    ca: TestCA, clock: TestClock, make_client: MakeClient
) -> None:
    hits: list[str] = []
    app = _app(
        lambda _: web.json_response(
            {"m.server": "matrix.example.test:8443"}, headers={"Cache-Control": "max-age=3600"}
        ),
        hits,
    )
    async with tls_server(app, ca, "example.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        assert (
            await client.well_known.delegated_server("example.test") == "matrix.example.test:8443"
        )
        assert (
            await client.well_known.delegated_server("example.test") == "matrix.example.test:8443"
        )
        assert hits == [WK]
        clock.advance(3601_000)
        await client.well_known.delegated_server("example.test")
        assert hits == [WK, WK]


async def test_expires_header_and_clamping(
    ca: TestCA, clock: TestClock, make_client: MakeClient
) -> None:
    hits: list[str] = []
    app = _app(
        lambda _: web.json_response(
            {"m.server": "m.example.test"}, headers={"Cache-Control": "no-cache"}
        ),
        hits,
    )
    async with tls_server(app, ca, "example.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        await client.well_known.delegated_server("example.test")
        clock.advance(60_000)  # inside the 5-minute floor
        await client.well_known.delegated_server("example.test")
        assert len(hits) == 1
        clock.advance(5 * 60_000)
        await client.well_known.delegated_server("example.test")
        assert len(hits) == 2


async def test_errors_are_cached_briefly(
    ca: TestCA, clock: TestClock, make_client: MakeClient
) -> None:
    hits: list[str] = []
    app = _app(lambda _: web.Response(status=404), hits)
    async with tls_server(app, ca, "example.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        assert await client.well_known.delegated_server("example.test") is None
        assert await client.well_known.delegated_server("example.test") is None
        assert len(hits) == 1
        clock.advance(601_000)
        assert await client.well_known.delegated_server("example.test") is None
        assert len(hits) == 2


async def test_redirects_are_followed_within_the_limit(ca: TestCA, make_client: MakeClient) -> None:
    hits: list[str] = []

    def handler(request: web.Request) -> web.StreamResponse:
        if request.path == WK:
            raise web.HTTPFound("/hop1")
        if request.path == "/hop1":
            raise web.HTTPMovedPermanently("https://example.test/final")
        if request.path.startswith("/loop"):
            raise web.HTTPFound("/loop")
        return web.json_response({"m.server": "delegated.test"})

    async with tls_server(_app(handler, hits), ca, "example.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        assert await client.well_known.delegated_server("example.test") == "delegated.test"
        assert hits == [WK, "/hop1", "/final"]


async def test_redirect_loop_gives_up(ca: TestCA, make_client: MakeClient) -> None:
    hits: list[str] = []
    async with tls_server(_app(lambda _: _redirect("/again"), hits), ca, "example.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        assert await client.well_known.delegated_server("example.test") is None
        assert len(hits) == 6  # the first request and five redirects


async def test_redirects_to_http_or_refused_addresses_are_not_followed(
    ca: TestCA, make_client: MakeClient
) -> None:
    for location in ("http://example.test/x", "https://10.0.0.1/x", "https://[::1]/x"):
        hits: list[str] = []
        app = _app(lambda _, loc=location: _redirect(loc), hits)  # type: ignore[misc]
        async with tls_server(app, ca, "example.test") as port:
            client = make_client(
                resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)})
            )
            assert await client.well_known.delegated_server("example.test") is None
            assert hits == [WK]


async def test_bad_bodies_count_as_no_delegation(ca: TestCA, make_client: MakeClient) -> None:
    bodies = [
        b"not json",
        b"[]",
        b'{"m.server": 5}',
        b'{"m.server": "bad name!"}',
        b'{"other": "x"}',
        b'{"m.server": "' + b"a" * 60_000 + b'"}',  # over the size limit
    ]
    for body in bodies:
        app = _app(lambda _, b=body: web.Response(body=b, content_type="application/json"), [])  # type: ignore[misc]
        async with tls_server(app, ca, "example.test") as port:
            client = make_client(
                resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)})
            )
            assert await client.well_known.delegated_server("example.test") is None, body[:30]


async def test_untrusted_certificate_counts_as_no_delegation(
    ca: TestCA, make_client: MakeClient
) -> None:
    other_ca = TestCA(ca.directory.parent / "other-ca")
    app = _app(lambda _: web.json_response({"m.server": "x.test"}), [])
    async with tls_server(app, other_ca, "example.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        assert await client.well_known.delegated_server("example.test") is None
    async with tls_server(app, ca, "wrong-name.test") as port:
        client = make_client(resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}))
        assert await client.well_known.delegated_server("example.test") is None


async def test_names_resolving_to_refused_addresses_are_not_contacted(
    ca: TestCA, make_client: MakeClient
) -> None:
    hits: list[str] = []
    app = _app(lambda _: web.json_response({"m.server": "x.test"}), hits)
    async with tls_server(app, ca, "example.test") as port:
        client = make_client(
            resolver=StaticResolver({("example.test", 443): ("127.0.0.1", port)}),
            policy=IpPolicy(),
        )
        assert await client.well_known.delegated_server("example.test") is None
        assert hits == []


async def test_cache_is_bounded(ca: TestCA, make_client: MakeClient) -> None:
    hits: list[str] = []
    app = _app(lambda r: web.json_response({"m.server": f"d.{r.host.split(':')[0]}"}), hits)
    async with tls_server(app, ca, "a.test", "b.test", "c.test") as port:
        resolver = StaticResolver(
            {(h, 443): ("127.0.0.1", port) for h in ("a.test", "b.test", "c.test")}
        )
        client = make_client(resolver=resolver)
        client.well_known._max_entries = 2
        for host in ("a.test", "b.test", "c.test", "c.test", "b.test"):
            assert await client.well_known.delegated_server(host) == f"d.{host}"
        assert len(hits) == 3
        await client.well_known.delegated_server("a.test")  # evicted first
        assert len(hits) == 4

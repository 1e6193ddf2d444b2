"""The outbound federation client against local TLS servers: signing, Host and SNI, discovery,
IP policy, retries, size limits and error mapping."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import orjson
import pytest
from aiohttp import web

from core.errors import MatrixError
from core.signing import SigningKey
from federation.discovery import SrvRecord
from federation.errors import FederationError
from federation.ip_policy import IpPolicy
from federation.x_matrix import authenticate_request
from tests.federation.conftest import OUR_NAME, MakeClient
from tests.federation.helpers import KnownKeys, StaticResolver, TestClock, tls_server
from tests.federation.tls import TestCA

REMOTE = "remote.test"


def _answer(make: Callable[[], web.Response]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_: web.Request) -> web.Response:
        return make()

    return handler


class Recorder:
    """An app that checks X-Matrix on every request and records what it saw."""

    def __init__(self, our_key: SigningKey, server_name: str = REMOTE) -> None:
        self.verifier = KnownKeys({OUR_NAME: our_key.verify_key})
        self.server_name = server_name
        self.seen: list[tuple[str, str, str, str]] = []  # method, raw path, Host, origin
        self.statuses: list[int] = []  # answers to give before a 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            origin = await authenticate_request(
                request.headers.get("Authorization"),
                method=request.method,
                uri=request.raw_path,
                content=orjson.loads(body) if body else None,
                our_server_name=self.server_name,
                verifier=self.verifier,
                now_ms=0,
            )
        except MatrixError as exc:
            return web.json_response(exc.to_json(), status=exc.status)
        self.seen.append((request.method, request.raw_path, request.host, origin))
        if self.statuses:
            status = self.statuses.pop(0)
            return web.json_response({"errcode": "M_UNKNOWN", "error": "busy"}, status=status)
        return web.json_response({"ok": True, "echo": orjson.loads(body) if body else None})


async def test_signed_get_with_query_reaches_the_override(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key)
    async with tls_server(recorder.app(), ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        path = "/_matrix/federation/v1/query/profile"
        query = {"user_id": "@a b:remote.test", "field": "displayname"}
        assert await client.get_json(REMOTE, path, query) == {"ok": True, "echo": None}
    assert recorder.seen == [
        ("GET", f"{path}?user_id=%40a%20b%3Aremote.test&field=displayname", REMOTE, OUR_NAME)
    ]


async def test_put_and_post_sign_their_content(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key)
    async with tls_server(recorder.app(), ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        content = {"pdus": [], "edus": [{"edu_type": "m.typing", "content": {"ü": 1}}]}
        answer = await client.put_json(REMOTE, "/_matrix/federation/v1/send/t1", content)
        assert answer["echo"] == content
        answer = await client.post_json(REMOTE, "/_matrix/key/v2/query", {"server_keys": {}})
        assert answer["echo"] == {"server_keys": {}}
    assert [s[0] for s in recorder.seen] == ["PUT", "POST"]


async def test_gets_are_retried_with_backoff_on_5xx(
    ca: TestCA, clock: TestClock, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key)
    recorder.statuses = [502, 500]
    async with tls_server(recorder.app(), ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        assert (await client.get_json(REMOTE, "/_matrix/federation/v1/version"))["ok"]
    assert len(recorder.seen) == 3
    assert clock.slept == [0.5, 1.0]


async def test_puts_are_not_retried(
    ca: TestCA, clock: TestClock, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key)
    recorder.statuses = [503]
    async with tls_server(recorder.app(), ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        with pytest.raises(FederationError) as info:
            await client.put_json(REMOTE, "/_matrix/federation/v1/send/t1", {"pdus": []})
    assert (info.value.status, info.value.errcode, info.value.destination) == (
        503,
        "M_UNKNOWN",
        REMOTE,
    )
    assert info.value.retryable
    assert len(recorder.seen) == 1
    assert clock.slept == []


async def test_client_errors_map_to_federation_errors_without_retry(
    ca: TestCA, clock: TestClock, make_client: MakeClient
) -> None:
    app = web.Application()
    app.router.add_get(
        "/{tail:.*}",
        _answer(lambda: web.json_response({"errcode": "M_NOT_FOUND", "error": "no"}, status=404)),
    )
    async with tls_server(app, ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        with pytest.raises(FederationError) as info:
            await client.get_json(REMOTE, "/_matrix/federation/v1/event/%24x")
    assert (info.value.status, info.value.errcode) == (404, "M_NOT_FOUND")
    assert not info.value.retryable
    assert clock.slept == []


async def test_the_remote_checks_our_signature(ca: TestCA, make_client: MakeClient) -> None:
    from core.signing import generate_signing_key

    recorder = Recorder(generate_signing_key("ours"))  # knows a different key under our key ID
    async with tls_server(recorder.app(), ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
        with pytest.raises(FederationError) as info:
            await client.get_json(REMOTE, "/_matrix/federation/v1/version")
    assert (info.value.status, info.value.errcode) == (401, "M_UNAUTHORIZED")


@pytest.mark.parametrize(
    "body", [b"x" * 5000, b"not json", b"[1]", b'{"n": 1e400}', b'{"a":' * 100 + b"1" + b"}" * 100]
)
async def test_oversized_or_bad_json_answers_are_refused(
    ca: TestCA, make_client: MakeClient, body: bytes
) -> None:
    app = web.Application()
    app.router.add_get(
        "/{tail:.*}", _answer(lambda: web.Response(body=body, content_type="application/json"))
    )
    async with tls_server(app, ca, REMOTE) as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"}, max_response_bytes=4096)
        with pytest.raises(FederationError) as info:
            await client.get_json(REMOTE, "/_matrix/federation/v1/version")
    assert info.value.status == 200
    assert not info.value.retryable


async def test_refused_addresses_are_never_contacted(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key)
    async with tls_server(recorder.app(), ca, REMOTE, "named.test") as port:
        for policy in (IpPolicy(), IpPolicy.from_config(None, ["10.0.0.0/8"])):
            client = make_client(
                overrides={REMOTE: f"127.0.0.1:{port}", "named.test:1": f"localhost:{port}"},
                resolver=StaticResolver({("localhost", port): ("127.0.0.1", port)}),
                policy=policy,
            )
            for destination in (REMOTE, "named.test:1"):
                with pytest.raises(FederationError) as info:
                    await client.get_json(destination, "/_matrix/federation/v1/version")
                assert not info.value.retryable
                assert "IP policy" in info.value.message
    assert recorder.seen == []


async def test_domain_allowlist(ca: TestCA, our_key: SigningKey, make_client: MakeClient) -> None:
    recorder = Recorder(our_key)
    async with tls_server(recorder.app(), ca, REMOTE) as port:
        client = make_client(
            overrides={REMOTE: f"127.0.0.1:{port}"}, domain_allowlist=frozenset({"other.test"})
        )
        with pytest.raises(FederationError):
            await client.get_json(REMOTE, "/_matrix/federation/v1/version")
    assert recorder.seen == []


async def test_connection_refused_is_retryable_and_retried(
    clock: TestClock, make_client: MakeClient
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"})
    with pytest.raises(FederationError) as info:
        await client.get_json(REMOTE, "/_matrix/federation/v1/version")
    assert info.value.status is None
    assert info.value.retryable
    assert clock.slept == [0.5, 1.0]


async def test_certificates_must_match_the_server_name(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key)
    async with tls_server(recorder.app(), ca, "someone-else.test") as port:
        client = make_client(overrides={REMOTE: f"127.0.0.1:{port}"}, get_retries=0)
        with pytest.raises(FederationError):
            await client.get_json(REMOTE, "/_matrix/federation/v1/version")
        lax = make_client(overrides={REMOTE: f"127.0.0.1:{port}"}, verify_certificates=False)
        assert (await lax.get_json(REMOTE, "/_matrix/federation/v1/version"))["ok"]
    assert len(recorder.seen) == 1


async def test_ip_literal_server_names_use_ip_certificates(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key, server_name="127.0.0.1:0")
    async with tls_server(recorder.app(), ca, "127.0.0.1") as port:
        recorder.server_name = f"127.0.0.1:{port}"
        client = make_client()
        assert (await client.get_json(f"127.0.0.1:{port}", "/_matrix/federation/v1/version"))["ok"]
    assert recorder.seen[0][2] == f"127.0.0.1:{port}"


async def test_well_known_delegation_end_to_end(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    """example.test delegates to fed.example.test:<port>; Host and SNI name the delegate."""
    recorder = Recorder(our_key, server_name="example.test")
    async with tls_server(recorder.app(), ca, "fed.example.test") as fed_port:
        well_known = web.Application()
        well_known.router.add_get(
            "/.well-known/matrix/server",
            _answer(lambda: web.json_response({"m.server": f"fed.example.test:{fed_port}"})),
        )
        async with tls_server(well_known, ca, "example.test") as wk_port:
            client = make_client(
                resolver=StaticResolver(
                    {
                        ("example.test", 443): ("127.0.0.1", wk_port),
                        ("fed.example.test", fed_port): ("127.0.0.1", fed_port),
                    }
                )
            )
            assert (await client.get_json("example.test", "/_matrix/federation/v1/version"))["ok"]
    assert recorder.seen[0][2] == f"fed.example.test:{fed_port}"


async def test_srv_target_with_the_server_names_certificate(
    ca: TestCA, our_key: SigningKey, make_client: MakeClient
) -> None:
    recorder = Recorder(our_key, server_name="example.test")
    async with tls_server(recorder.app(), ca, "example.test") as port:
        client = make_client(
            srv={"_matrix-fed._tcp.example.test": [SrvRecord(0, 0, port, "host.hosting.test")]},
            resolver=StaticResolver({("host.hosting.test", port): ("127.0.0.1", port)}),
        )
        assert (await client.get_json("example.test", "/_matrix/federation/v1/version"))["ok"]
    assert recorder.seen[0][2] == "example.test"

"""The outbound federation client: signed requests to other servers over TLS (JSON, and
streamed responses for media).

Invariants:
- Every request goes to the target `ServerResolver` gives for the destination, with its `Host`
  header and its TLS server name (SNI and certificate check); certificates are verified against
  the system store or `ca_certificates_path` unless `verify_certificates` is off.
- Connections are made only to addresses the `IpPolicy` allows: names through a
  `GuardedResolver`, IP literals checked before the request. Redirects are not followed, but
  for `open_url` (a media `Location` a server sent), which checks every hop the same way.
- Every request is signed with X-Matrix (the signed `uri` is exactly the path and query sent).
- JSON responses are read up to `max_response_bytes` and parsed by the strict JSON ingress;
  streamed ones (`stream`, `open_url`) are bounded by their reader. Any failure to get an
  answer surfaces as a `FederationError` naming the destination, never as an aiohttp error.
- Only idempotent GETs are retried (connection errors, 5xx, 429), with capped exponential
  backoff on the injected clock; other methods leave retrying to their caller.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from core.canonical_json import encode_canonical
from core.errors import JsonDict, MatrixError
from core.json_ingress import parse_json_object
from core.signing import SigningKey
from federation.discovery import DnsSrvResolver, ResolvedServer, ServerResolver, SrvResolver
from federation.errors import FederationError
from federation.http_util import REDIRECT_STATUSES, BodyTooLargeError, read_limited
from federation.ip_policy import AddressBlockedError, GuardedResolver, IpPolicy
from federation.ports import Clock
from federation.well_known import WellKnownClient
from federation.x_matrix import authorization_header, sign_request

__all__ = ["ClientSettings", "FederationClient", "path_segment"]

logger = logging.getLogger(__name__)

_USER_AGENT: Final = "Tessera (Matrix homeserver federation)"
_MAX_ERROR_BYTES: Final = 64 * 1024
QueryValue = str | int | bool | list[str]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How the federation client behaves.

    Attributes:
        server_name: Our server name (the `origin` of every request).
        ca_certificates_path: A PEM bundle trusted instead of the system store.
        verify_certificates: Whether remote certificates are checked at all.
        overrides: `{server_name: "host:port"}` targets that skip discovery.
        domain_allowlist: Destinations we may contact; None for every server.
        timeout_s: Deadline of one attempt.
        connect_timeout_s: Deadline to establish a connection.
        max_response_bytes: Largest response body accepted.
        get_retries: Extra attempts for a GET after a retryable failure.
        backoff_base_s: First backoff delay; doubled per attempt.
        backoff_max_s: Cap of the backoff delay.
    """

    server_name: str
    ca_certificates_path: str | None = None
    verify_certificates: bool = True
    overrides: Mapping[str, str] = field(default_factory=dict)
    domain_allowlist: frozenset[str] | None = None
    timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    max_response_bytes: int = 64 * 1024 * 1024
    get_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_max_s: float = 10.0


def path_segment(value: str) -> str:
    """Percent-encode one path segment (an event ID, room ID or user ID) for a request path."""
    return quote(value, safe="")


def _ssl_context(settings: ClientSettings) -> ssl.SSLContext:
    if not settings.verify_certificates:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=settings.ca_certificates_path)


class FederationClient:
    """Signed JSON requests to remote servers; create once, `close()` on shutdown."""

    def __init__(
        self,
        settings: ClientSettings,
        signing_key: SigningKey,
        *,
        clock: Clock,
        policy: IpPolicy,
        srv_resolver: SrvResolver | None = None,
        name_resolver: AbstractResolver | None = None,
    ) -> None:
        """Build the client (no connection is opened until the first request).

        Args:
            settings: Behaviour and limits.
            signing_key: Our server key, which signs every request.
            clock: Backoff sleeps and `.well-known` cache expiry.
            policy: Which addresses may be contacted.
            srv_resolver: SRV lookups; dnspython's resolver when None.
            name_resolver: A/AAAA lookups before the policy filter; the system resolver when
                None (tests pass a static map).

        Raises:
            OSError: If `ca_certificates_path` cannot be read.
            ssl.SSLError: If it holds no valid certificates.
        """
        self._settings = settings
        self._key = signing_key
        self._clock = clock
        self._policy = policy
        self._ssl = _ssl_context(settings)
        self._name_resolver = name_resolver
        self._session: aiohttp.ClientSession | None = None
        self.well_known = WellKnownClient(self._client_session, clock=clock, policy=policy)
        self.discovery = ServerResolver(
            srv=srv_resolver or DnsSrvResolver(),
            well_known=self.well_known,
            overrides=settings.overrides,
        )

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            inner = self._name_resolver or ThreadedResolver()
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(inner, self._policy),
                ssl=self._ssl,
                limit=200,
                limit_per_host=20,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(
                    total=self._settings.timeout_s, sock_connect=self._settings.connect_timeout_s
                ),
                headers={"User-Agent": _USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(
        self, destination: str, path: str, query: Mapping[str, QueryValue] | None = None
    ) -> JsonDict:
        """GET a JSON object, retrying retryable failures with backoff.

        Args:
            destination: The server name.
            path: The percent-encoded path, from `/_matrix`.
            query: Query parameters (lists repeat the parameter).

        Raises:
            FederationError: On any failure after the last attempt.
        """
        attempt = 0
        while True:
            try:
                return await self.request("GET", destination, path, query=query)
            except FederationError as exc:
                if not exc.retryable or attempt >= self._settings.get_retries:
                    raise
                delay = min(
                    self._settings.backoff_base_s * 2**attempt, self._settings.backoff_max_s
                )
                logger.info(
                    "federation GET failed, retrying destination=%s path=%s delay=%.2f",
                    destination,
                    path,
                    delay,
                )
                attempt += 1
                await self._clock.sleep(delay)

    async def post_json(
        self,
        destination: str,
        path: str,
        content: JsonDict,
        query: Mapping[str, QueryValue] | None = None,
    ) -> JsonDict:
        """POST a JSON object and return the JSON response (one attempt)."""
        return await self.request("POST", destination, path, query=query, content=content)

    async def put_json(
        self,
        destination: str,
        path: str,
        content: JsonDict,
        query: Mapping[str, QueryValue] | None = None,
    ) -> JsonDict:
        """PUT a JSON object and return the JSON response (one attempt)."""
        return await self.request("PUT", destination, path, query=query, content=content)

    async def request(
        self,
        method: str,
        destination: str,
        path: str,
        *,
        query: Mapping[str, QueryValue] | None = None,
        content: JsonDict | None = None,
    ) -> JsonDict:
        """Send one signed request and return the JSON object it answers.

        Raises:
            FederationError: If the destination is refused or unreachable, answers an error
                status, or answers something other than a JSON object within the size limit.
        """
        uri = path + ("?" + _encode_query(query) if query else "")
        url, headers, target = await self._prepare(method, destination, uri, content)
        body = None
        if content is not None:
            body = encode_canonical(content)
            headers["Content-Type"] = "application/json"
        return await self._send(method, destination, url, headers, body, target)

    @asynccontextmanager
    async def stream(
        self,
        destination: str,
        path: str,
        query: Mapping[str, QueryValue] | None = None,
        *,
        timeout_s: float,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one signed GET and hand its successful response to the caller to read (media).

        The caller bounds what it reads, and reading failures inside the block are its own.

        Raises:
            FederationError: As `request`, for an error status or no answer.
        """
        uri = path + ("?" + _encode_query(query) if query else "")
        url, headers, target = await self._prepare("GET", destination, uri, None)
        async with _guarded(destination):
            resp = await self._client_session().get(
                url,
                headers=headers,
                server_hostname=target.tls_server_name,
                allow_redirects=False,
                timeout=self._timeout(timeout_s),
            )
        async with resp:
            await _check_status(destination, resp)
            yield resp

    @asynccontextmanager
    async def open_url(
        self, destination: str, url: str, *, timeout_s: float, max_redirects: int = 3
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """An unsigned GET of a URL a server sent us (a media `Location`), following at most
        `max_redirects` redirects, every address checked by the IP policy.

        Raises:
            FederationError: Naming `destination`, for a bad URL, a refused address, an error
                status, too many redirects or no answer.
        """
        target = URL(url)
        for _ in range(max_redirects + 1):
            if target.scheme not in ("http", "https") or not target.host:
                raise FederationError(destination, "bad media location", permanent=True)
            async with _guarded(destination):
                self._policy.check_host(target.host)
                resp = await self._client_session().get(
                    target, allow_redirects=False, timeout=self._timeout(timeout_s)
                )
            async with resp:
                location = resp.headers.get("Location")
                if resp.status in REDIRECT_STATUSES and location:
                    target = target.join(URL(location))
                    continue
                await _check_status(destination, resp)
                yield resp
                return
        raise FederationError(destination, "too many redirects", permanent=True)

    def _timeout(self, total_s: float) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=total_s, sock_connect=self._settings.connect_timeout_s)

    async def _prepare(
        self, method: str, destination: str, uri: str, content: JsonDict | None
    ) -> tuple[URL, dict[str, str], ResolvedServer]:
        """The URL, signed headers and target of a request, after every policy check."""
        allowed = self._settings.domain_allowlist
        if allowed is not None and destination not in allowed:
            raise FederationError(destination, "destination not in the allow list", permanent=True)
        try:
            target = await self.discovery.resolve(destination)
            self._policy.check_host(target.host)
        except ValueError as exc:
            raise FederationError(
                destination, f"invalid server name: {exc}", permanent=True
            ) from None
        except AddressBlockedError:
            raise FederationError(
                destination, "address refused by IP policy", permanent=True
            ) from None
        auth = sign_request(
            self._key, method, uri, self._settings.server_name, destination, content
        )
        headers = {"Host": target.host_header, "Authorization": authorization_header(auth)}
        return _url(target, uri), headers, target

    async def _send(
        self,
        method: str,
        destination: str,
        url: URL,
        headers: dict[str, str],
        body: bytes | None,
        target: ResolvedServer,
    ) -> JsonDict:
        limit = self._settings.max_response_bytes
        async with (
            _guarded(destination),
            self._client_session().request(
                method,
                url,
                data=body,
                headers=headers,
                server_hostname=target.tls_server_name,
                allow_redirects=False,
            ) as resp,
        ):
            status = resp.status
            try:
                raw = await read_limited(resp, limit)
            except BodyTooLargeError:
                raise FederationError(
                    destination, "response too large", status=status, permanent=True
                ) from None
        return _response(destination, status, raw, limit)


def _url(target: ResolvedServer, uri: str) -> URL:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return URL(f"https://{host}:{target.port}{uri}", encoded=True)


def _encode_query(query: Mapping[str, QueryValue]) -> str:
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        if isinstance(value, list):
            pairs.extend((name, item) for item in value)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        else:
            pairs.append((name, str(value)))
    return urlencode(pairs, quote_via=quote)


@asynccontextmanager
async def _guarded(destination: str) -> AsyncIterator[None]:
    """Turn transport failures inside the block into `FederationError`s."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, AddressBlockedError):
            raise FederationError(
                destination, "address refused by IP policy", permanent=True
            ) from None
        raise FederationError(destination, f"cannot connect: {type(exc).__name__}") from None
    except AddressBlockedError:
        raise FederationError(destination, "address refused by IP policy", permanent=True) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise FederationError(destination, f"request failed: {type(exc).__name__}") from None


async def _check_status(destination: str, resp: aiohttp.ClientResponse) -> None:
    """Raise the `FederationError` of an error status (with the errcode of its body)."""
    if 200 <= resp.status < 300:
        return
    raw = b""
    async with _guarded(destination):
        with contextlib.suppress(BodyTooLargeError):
            raw = await read_limited(resp, _MAX_ERROR_BYTES)
    _response(destination, resp.status, raw, _MAX_ERROR_BYTES)


def _response(destination: str, status: int, raw: bytes, limit: int) -> JsonDict:
    try:
        parsed: JsonDict | None = parse_json_object(raw, max_bytes=limit)
    except MatrixError:
        parsed = None
    if 200 <= status < 300:
        if parsed is None:
            raise FederationError(destination, "response is not a JSON object", status=status)
        return parsed
    errcode = parsed.get("errcode") if parsed is not None else None
    error = parsed.get("error") if parsed is not None else None
    message = f"status {status}" + (f": {error[:200]}" if isinstance(error, str) else "")
    raise FederationError(
        destination,
        message,
        status=status,
        errcode=errcode if isinstance(errcode, str) else None,
    )

"""X-Matrix request authentication (Server-Server API "Request Authentication").

Every federation request carries `Authorization: X-Matrix origin=…,destination=…,key=…,sig=…`,
where `sig` signs the JSON object `{method, uri, origin, destination[, content]}` with one of
the origin's server keys. This module builds that object and header, parses the header
strictly (RFC 9110 auth-params: tokens or quoted strings, names case-insensitive, unknown
parameters ignored, duplicates refused; unquoted values may contain `:`, as the spec allows for
older senders) and checks a request against a key.

Invariants: the signed object is built the same way on both sides (`request_json`); `content`
is present exactly when the request has a JSON body; parsing never accepts a header that lacks
`origin`, `key` or `sig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Protocol

from core.base64 import encode_unpadded
from core.errors import M_UNAUTHORIZED, JsonDict, MatrixError
from core.identifiers import ServerName, parse_server_name
from core.signing import SignatureError, SigningKey, signable_bytes

__all__ = [
    "XMatrixAuth",
    "XMatrixParseError",
    "authenticate_request",
    "authorization_header",
    "parse_authorization",
    "request_json",
    "sign_request",
]

SCHEME: Final = "X-Matrix"
_TCHAR: Final = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_OWS: Final = r"[ \t]*"
# auth-param = token BWS "=" BWS ( token / quoted-string ), with ':' allowed in unquoted values.
_PARAM: Final = re.compile(
    rf"{_OWS}([{_TCHAR}]+){_OWS}={_OWS}"
    rf'(?:"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"'
    rf"|([{_TCHAR}:]+)){_OWS}"
)
_QUOTED_PAIR: Final = re.compile(r"\\(.)", re.DOTALL)
_KEY_ID: Final = re.compile(r"ed25519:[A-Za-z0-9_]+")
_NEEDS_ESCAPE: Final = re.compile(r'(["\\])')


class XMatrixParseError(ValueError):
    """An Authorization header that is not a well-formed X-Matrix credential."""


@dataclass(frozen=True, slots=True)
class XMatrixAuth:
    """The parameters of one X-Matrix credential.

    Attributes:
        origin: The requesting server.
        destination: The server the request is for; None when an older sender left it out.
        key_id: The origin's key that made the signature, `ed25519:<version>`.
        signature: The unpadded Base64 signature.
    """

    origin: ServerName
    destination: ServerName | None
    key_id: str
    signature: str


class ServerJsonVerifier(Protocol):
    """Checks signed JSON against a server's keys (the keyring)."""

    async def verify_json_for_server(
        self, server_name: ServerName, obj: JsonDict, at_ts: int
    ) -> None:
        """Raise `SignatureError` unless `server_name` validly signed `obj` with keys valid at `at_ts`."""
        ...


def request_json(
    method: str, uri: str, origin: str, destination: str, content: JsonDict | None = None
) -> JsonDict:
    """The object an X-Matrix signature covers.

    Args:
        method: The HTTP method, upper case.
        uri: The request target as sent: path from `/_matrix` and the query string, if any.
        origin: The requesting server's name.
        destination: The receiving server's name.
        content: The JSON body; None when the request has none.
    """
    obj: JsonDict = {
        "method": method.upper(),
        "uri": uri,
        "origin": origin,
        "destination": destination,
    }
    if content is not None:
        obj["content"] = content
    return obj


def sign_request(
    key: SigningKey,
    method: str,
    uri: str,
    origin: str,
    destination: str,
    content: JsonDict | None = None,
) -> XMatrixAuth:
    """Sign a request with our server key.

    Raises:
        ValueError: If `content` is not canonical-JSON encodable.
    """
    message = signable_bytes(request_json(method, uri, origin, destination, content))
    return XMatrixAuth(
        origin=ServerName(origin),
        destination=ServerName(destination),
        key_id=key.key_id,
        signature=encode_unpadded(key.sign(message)),
    )


def authorization_header(auth: XMatrixAuth) -> str:
    """The `Authorization` header value, in the form the spec asks senders to use.

    One space after the scheme, lower-case names, no spaces around `=`, every value quoted.
    """
    params: dict[str, str | None] = {
        "origin": auth.origin,
        "destination": auth.destination,
        "key": auth.key_id,
        "sig": auth.signature,
    }
    body = ",".join(
        f'{name}="{_quote(value)}"' for name, value in params.items() if value is not None
    )
    return f"{SCHEME} {body}"


def _quote(value: str) -> str:
    return _NEEDS_ESCAPE.sub(r"\\\1", value)


def parse_authorization(header: str) -> XMatrixAuth:
    """Parse an `Authorization` header holding an X-Matrix credential.

    Raises:
        XMatrixParseError: If the scheme is not X-Matrix, the parameters break the grammar or
            repeat, or `origin`, `key` or `sig` is missing or malformed.
    """
    scheme, sep, rest = header.partition(" ")
    if scheme.lower() != SCHEME.lower() or not sep:
        raise XMatrixParseError("not an X-Matrix credential")
    params = _parse_params(rest.lstrip(" "))
    try:
        origin = parse_server_name(params["origin"])
        key_id, signature = params["key"], params["sig"]
    except KeyError as exc:
        raise XMatrixParseError(f"X-Matrix credential lacks {exc.args[0]}") from None
    except ValueError as exc:
        raise XMatrixParseError(f"bad origin: {exc}") from None
    destination = params.get("destination")
    try:
        dest = None if destination is None else parse_server_name(destination)
    except ValueError as exc:
        raise XMatrixParseError(f"bad destination: {exc}") from None
    if not _KEY_ID.fullmatch(key_id):
        raise XMatrixParseError("key must be ed25519:<version>")
    if not signature:
        raise XMatrixParseError("empty sig")
    return XMatrixAuth(origin, dest, key_id, signature)


def _parse_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while True:
        match = _PARAM.match(text, pos)
        if match is None:
            raise XMatrixParseError("malformed X-Matrix parameters")
        name = match.group(1).lower()
        quoted = match.group(2)
        value = match.group(3) if quoted is None else _QUOTED_PAIR.sub(r"\1", quoted)
        if name in params:
            raise XMatrixParseError(f"repeated X-Matrix parameter {name}")
        params[name] = value
        pos = match.end()
        if pos == len(text):
            return params
        if text[pos] != ",":
            raise XMatrixParseError("X-Matrix parameters must be separated by commas")
        pos += 1


def signed_request_json(
    auth: XMatrixAuth, method: str, uri: str, destination: str, content: JsonDict | None
) -> JsonDict:
    """The request object with the credential's signature attached, ready to verify."""
    obj = request_json(method, uri, auth.origin, destination, content)
    obj["signatures"] = {auth.origin: {auth.key_id: auth.signature}}
    return obj


async def authenticate_request(
    header: str | None,
    *,
    method: str,
    uri: str,
    content: JsonDict | None,
    our_server_name: str,
    verifier: ServerJsonVerifier,
    now_ms: int,
) -> ServerName:
    """Check an inbound federation request and return its origin.

    Args:
        header: The `Authorization` header, or None when absent.
        method: The request method.
        uri: The raw request target (path and query) as received.
        content: The parsed JSON body, or None when the request has no body.
        our_server_name: Our server name; a credential naming another destination is refused.
        verifier: The keyring.
        now_ms: The current time; the origin's key must be valid now.

    Raises:
        MatrixError: `M_UNAUTHORIZED` (401) for a missing, malformed, misdirected or badly
            signed credential.
    """
    if header is None:
        raise MatrixError(M_UNAUTHORIZED, "Missing X-Matrix Authorization header")
    try:
        auth = parse_authorization(header)
    except XMatrixParseError as exc:
        raise MatrixError(M_UNAUTHORIZED, str(exc)) from None
    if auth.destination is not None and auth.destination != our_server_name:
        raise MatrixError(M_UNAUTHORIZED, "Request is for another destination")
    obj = signed_request_json(auth, method, uri, our_server_name, content)
    try:
        await verifier.verify_json_for_server(auth.origin, obj, now_ms)
    except SignatureError as exc:
        raise MatrixError(M_UNAUTHORIZED, f"Invalid X-Matrix signature: {exc}") from None
    return auth.origin

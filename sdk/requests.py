"""Request builders: what to send for each Client-Server call, with no I/O.

Every builder fills a `core.endpoints` template and returns a frozen `Request`; the I/O shell
(`sdk.http`) only adds the base URL and the access token. `Request.idempotent` says whether
resending after a lost response is harmless (GET, PUT with a transaction ID, …), which is what
the shell's retry policy needs to know.

Invariant: request bodies (passwords, keys, message content) stay out of `repr`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from core.endpoints import ENDPOINTS
from core.errors import JsonDict

__all__ = [
    "Request",
    "build",
    "create_room",
    "download",
    "get_state",
    "get_state_event",
    "invite",
    "join",
    "leave",
    "login_password",
    "logout",
    "messages",
    "parse_mxc",
    "register",
    "search",
    "send_message",
    "send_state",
    "send_to_device",
    "set_displayname",
    "sync",
    "upload",
    "whoami",
]

Direction = Literal["b", "f"]


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request to the homeserver, relative to its base URL.

    Attributes:
        method: The HTTP method.
        path: The percent-encoded path.
        query: Query parameters as (name, value) pairs; a name may repeat (`via`).
        body: A JSON object, raw bytes (uploads) or None.
        requires_auth: Whether to send the access token.
        idempotent: Whether repeating the request is harmless (safe to retry on 5xx/network).
        content_type: The body's media type for raw bodies.
        timeout_s: A total timeout for this request (long polls), else the client's default.
        raw_response: The caller wants the body bytes (downloads), not JSON.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: JsonDict | bytes | None = field(default=None, repr=False)
    requires_auth: bool = True
    idempotent: bool = False
    content_type: str | None = None
    timeout_s: float | None = None
    raw_response: bool = False


def build(
    name: str,
    *,
    params: Mapping[str, str] | None = None,
    query: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    body: JsonDict | bytes | None = None,
    idempotent: bool | None = None,
    content_type: str | None = None,
    timeout_s: float | None = None,
    raw_response: bool = False,
) -> Request:
    """The request for endpoint `name` of `core.endpoints`.

    Args:
        name: The endpoint's name, e.g. `keys_query`.
        params: Path parameters by their spec names.
        query: Query parameters, a mapping or (name, value) pairs.
        body: The JSON body (or bytes).
        idempotent: Override the default (every method but POST is idempotent).
        content_type: Media type of a raw body.
        timeout_s: A total timeout for this request.
        raw_response: Return bytes rather than JSON.

    Raises:
        KeyError: Unknown endpoint name.
        ValueError: Missing or unexpected path parameters.
    """
    ep = ENDPOINTS[name]
    return Request(
        method=ep.method,
        path=ep.path(**(params or {})),
        query=tuple(query.items() if isinstance(query, Mapping) else query),
        body=body,
        requires_auth=ep.requires_auth,
        idempotent=ep.method != "POST" if idempotent is None else idempotent,
        content_type=content_type,
        timeout_s=timeout_s,
        raw_response=raw_response,
    )


def _drop_none(**fields: object) -> JsonDict:
    return {k: v for k, v in fields.items() if v is not None}


def register(
    username: str | None,
    password: str | None,
    *,
    device_id: str | None = None,
    initial_device_display_name: str | None = None,
    auth: JsonDict | None = None,
    inhibit_login: bool = False,
) -> Request:
    """`POST /register` (kind=user); `auth` completes a user-interactive auth stage."""
    body = _drop_none(
        username=username,
        password=password,
        device_id=device_id,
        initial_device_display_name=initial_device_display_name,
        auth=auth,
    )
    if inhibit_login:
        body["inhibit_login"] = True
    return build("register", query={"kind": "user"}, body=body)


def login_password(
    user: str,
    password: str,
    *,
    device_id: str | None = None,
    initial_device_display_name: str | None = None,
) -> Request:
    """`POST /login` with `m.login.password` for a user ID or localpart."""
    body = _drop_none(
        type="m.login.password",
        identifier={"type": "m.id.user", "user": user},
        password=password,
        device_id=device_id,
        initial_device_display_name=initial_device_display_name,
    )
    return build("login", body=body)


def logout() -> Request:
    """`POST /logout`: invalidate this access token and its device."""
    return build("logout", body={})


def whoami() -> Request:
    """`GET /account/whoami`."""
    return build("whoami")


def sync(
    since: str | None = None,
    *,
    timeout_ms: int = 0,
    full_state: bool = False,
    sync_filter: str | None = None,
    set_presence: str | None = None,
) -> Request:
    """`GET /sync`, long-polling up to `timeout_ms` (the request's own timeout is longer)."""
    query = {"timeout": str(timeout_ms)}
    if since is not None:
        query["since"] = since
    if full_state:
        query["full_state"] = "true"
    if sync_filter is not None:
        query["filter"] = sync_filter
    if set_presence is not None:
        query["set_presence"] = set_presence
    return build("sync", query=query, timeout_s=timeout_ms / 1000 + 30)


def create_room(
    *,
    name: str | None = None,
    topic: str | None = None,
    preset: str | None = None,
    visibility: str | None = None,
    is_direct: bool = False,
    invite: tuple[str, ...] | list[str] = (),
    room_alias_name: str | None = None,
    room_version: str | None = None,
    initial_state: tuple[JsonDict, ...] | list[JsonDict] = (),
    extra: JsonDict | None = None,
) -> Request:
    """`POST /createRoom`; `extra` adds any further body fields (`power_level_content_override`)."""
    body = _drop_none(
        name=name,
        topic=topic,
        preset=preset,
        visibility=visibility,
        room_alias_name=room_alias_name,
        room_version=room_version,
    )
    if is_direct:
        body["is_direct"] = True
    if invite:
        body["invite"] = list(invite)
    if initial_state:
        body["initial_state"] = list(initial_state)
    body.update(extra or {})
    return build("create_room", body=body)


def join(room_id_or_alias: str, *, via: tuple[str, ...] = ()) -> Request:
    """`POST /join/{roomIdOrAlias}` (join is idempotent: joining twice is harmless)."""
    query = [("via", server) for server in via]
    params = {"roomIdOrAlias": room_id_or_alias}
    return build("join", params=params, query=query, body={}, idempotent=True)


def leave(room_id: str, *, reason: str | None = None) -> Request:
    """`POST /rooms/{roomId}/leave`."""
    body = _drop_none(reason=reason)
    return build("leave", params={"roomId": room_id}, body=body, idempotent=True)


def invite(room_id: str, user_id: str, *, reason: str | None = None) -> Request:
    """`POST /rooms/{roomId}/invite`."""
    body = _drop_none(user_id=user_id, reason=reason)
    return build("invite", params={"roomId": room_id}, body=body)


def send_message(room_id: str, event_type: str, txn_id: str, content: JsonDict) -> Request:
    """`PUT /rooms/{roomId}/send/{eventType}/{txnId}` (idempotent per transaction ID)."""
    params = {"roomId": room_id, "eventType": event_type, "txnId": txn_id}
    return build("send_message", params=params, body=content)


def send_state(room_id: str, event_type: str, state_key: str, content: JsonDict) -> Request:
    """`PUT /rooms/{roomId}/state/{eventType}/{stateKey}`."""
    params = {"roomId": room_id, "eventType": event_type, "stateKey": state_key}
    return build("send_state", params=params, body=content)


def get_state_event(room_id: str, event_type: str, state_key: str = "") -> Request:
    """`GET /rooms/{roomId}/state/{eventType}/{stateKey}`: the content of one state event."""
    params = {"roomId": room_id, "eventType": event_type, "stateKey": state_key}
    return build("get_state_event", params=params)


def get_state(room_id: str) -> Request:
    """`GET /rooms/{roomId}/state`: every current state event."""
    return build("get_state", params={"roomId": room_id})


def messages(
    room_id: str,
    *,
    start: str | None = None,
    direction: Direction = "b",
    limit: int | None = None,
    to: str | None = None,
    event_filter: str | None = None,
) -> Request:
    """`GET /rooms/{roomId}/messages`, a page back (`b`) or forward (`f`) from `start`."""
    query: dict[str, str] = {"dir": direction}
    if start is not None:
        query["from"] = start
    if limit is not None:
        query["limit"] = str(limit)
    if to is not None:
        query["to"] = to
    if event_filter is not None:
        query["filter"] = event_filter
    return build("messages", params={"roomId": room_id}, query=query)


def search(criteria: JsonDict, *, next_batch: str | None = None) -> Request:
    """`POST /search` for the `room_events` category with the spec's `criteria`
    (`search_term`, `keys`, `filter`, `order_by`, …). A search changes nothing: retrying is
    harmless."""
    query = {"next_batch": next_batch} if next_batch is not None else {}
    body: JsonDict = {"search_categories": {"room_events": criteria}}
    return build("search", query=query, body=body, idempotent=True)


def set_displayname(user_id: str, displayname: str) -> Request:
    """`PUT /profile/{userId}/displayname`."""
    params = {"userId": user_id, "keyName": "displayname"}
    return build("set_profile_field", params=params, body={"displayname": displayname})


def upload(data: bytes | None, content_type: str, filename: str | None = None) -> Request:
    """`POST /_matrix/media/v3/upload` with the raw bytes (None: the I/O shell streams the
    body from a file)."""
    query = {"filename": filename} if filename else {}
    return build("upload", query=query, body=data, content_type=content_type, timeout_s=300)


def parse_mxc(uri: str) -> tuple[str, str]:
    """The server name and media ID of an `mxc://server/mediaId` URI.

    Raises:
        ValueError: Not an mxc URI with both parts.
    """
    if not uri.startswith("mxc://"):
        raise ValueError("not an mxc:// URI")
    server_name, sep, media_id = uri[len("mxc://") :].partition("/")
    if not sep or not server_name or not media_id or "/" in media_id:
        raise ValueError("mxc URI must be mxc://<server>/<media id>")
    return server_name, media_id


def download(uri: str, *, filename: str | None = None) -> Request:
    """Authenticated `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]`.

    Raises:
        ValueError: `uri` is not a valid mxc URI.
    """
    server_name, media_id = parse_mxc(uri)
    params = {"serverName": server_name, "mediaId": media_id}
    name = "download"
    if filename is not None:
        name, params = "download_named", {**params, "fileName": filename}
    return build(name, params=params, raw_response=True, timeout_s=300)


def send_to_device(
    event_type: str, txn_id: str, messages: Mapping[str, Mapping[str, JsonDict]]
) -> Request:
    """`PUT /sendToDevice/{eventType}/{txnId}`; `messages` is user ID → device ID (or `*`) →
    content."""
    body = {"messages": {user: dict(devices) for user, devices in messages.items()}}
    return build("send_to_device", params={"eventType": event_type, "txnId": txn_id}, body=body)

"""Domain signals: what a request meant, read from its endpoint, parameters, body and status.

A request log shows that `POST /login` failed; moderation also needs to know which account it
tried. For the endpoints below, the already-parsed request body and the path parameters give a
small signal record:

- `login`: the targeted user ID (qualified with our server name) and whether it succeeded;
- `register`: whether an account was created (a 401 first round of user-interactive auth is
  an attempt, not a failure);
- `invite`: the room and the invited user;
- `join`: the room ID or alias;
- `message`: the room, the event type, and for text its length, link count and near-duplicate
  fingerprint (`fingerprint.text_signal`), never the text.

Invariant: a signal never holds a password, token or message body; values copied from the
request are identifiers checked for type and length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.errors import JsonDict
from homeserver.services.moderation.fingerprint import text_signal

__all__ = ["JOINS", "domain_signal", "join_target", "login_target"]

_MAX_ID: Final = 255
JOINS: Final = frozenset({"join", "join_room_id", "knock"})
"""The endpoints that join (or knock on) a room."""


def _ident(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_ID else None


def login_target(body: Mapping[str, Any], server_name: str) -> str | None:
    """The user ID a password login names (a localpart qualified with `server_name`)."""
    identifier = body.get("identifier")
    user = identifier.get("user") if isinstance(identifier, dict) else body.get("user")
    user = _ident(user)
    if user is None:
        return None
    if user.startswith("@"):
        return user
    return f"@{user.lower()}:{server_name}"


def join_target(params: Mapping[str, str]) -> str | None:
    """The room ID or alias a join or knock names in its path parameters."""
    return params.get("roomIdOrAlias") or params.get("roomId")


def domain_signal(
    name: str,
    params: Mapping[str, str],
    body: Mapping[str, Any] | None,
    status: int,
    server_name: str,
) -> JsonDict | None:
    """The signal of a request to endpoint `name`, None if it carries none.

    Args:
        name: The endpoint's name in `core.endpoints`.
        params: The path parameters.
        body: The parsed JSON body, if the handler read one.
        status: The answer's HTTP status.
        server_name: Our server name (to qualify login localparts).
    """
    ok = 200 <= status < 300
    if name == "login":
        target = login_target(body or {}, server_name)
        return {"kind": "login", "ok": ok, "target": target}
    if name == "register":
        if status == 401:
            return {"kind": "register", "ok": False, "stage": "auth"}
        return {"kind": "register", "ok": ok}
    if name == "invite":
        return {
            "kind": "invite",
            "ok": ok,
            "room_id": _ident(params.get("roomId")),
            "target": _ident((body or {}).get("user_id")),
        }
    if name in JOINS:
        return {"kind": "join", "ok": ok, "room": _ident(join_target(params))}
    if name == "send_message":
        return _message(params, body, ok)
    return None


def _message(params: Mapping[str, str], body: Mapping[str, Any] | None, ok: bool) -> JsonDict:
    signal: JsonDict = {
        "kind": "message",
        "ok": ok,
        "room_id": _ident(params.get("roomId")),
        "type": _ident(params.get("eventType")),
    }
    text = (body or {}).get("body")
    if isinstance(text, str):
        found = text_signal(text)
        signal.update(length=found.length, links=found.links, simhash=found.simhash)
    return signal

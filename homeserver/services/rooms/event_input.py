"""What a client may put into a new event, checked before anything is built or written.

Event content becomes canonical JSON (hashed and signed; room versions 6 and later forbid
floats), so it must follow the ingress rules with floats refused. Event type and state key go
into text columns and identifiers, so they must be storable text: no NUL, no lone surrogates,
at most 255 bytes. An `m.room.retention` policy and the self-destruct fields of a message must be
well formed (`core.retention`): the server acts on them. Checking here, first, keeps a refused event from leaving anything behind;
createRoom checks every event it will send before it creates the room.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.canonical_json import encode_canonical
from core.errors import M_BAD_JSON, M_TOO_LARGE, JsonDict, MatrixError
from core.event_format import MAX_KEY_BYTES, MAX_PDU_BYTES
from core.json_ingress import check_json
from core.retention import M_ROOM_RETENTION, check_self_destruct, parse_retention

__all__ = ["check_event_input", "check_events_input"]

# What a PDU adds around its content (IDs, hashes, signature, up to 10 auth and 20 prev event
# IDs), kept free when a batch of events is checked up front for the 64 KiB limit.
_ENVELOPE_BYTES = 4096


def check_event_input(event_type: str, state_key: str | None, content: JsonDict) -> None:
    """Refuse an event a client asked for that could not be stored, signed or served.

    Raises:
        MatrixError: `M_BAD_JSON` naming the problem (also for an invalid retention policy
            or self-destruct field).
    """
    _check_key("type", event_type)
    if state_key is not None:
        _check_key("state_key", state_key)
    if not isinstance(content, dict):
        raise MatrixError(M_BAD_JSON, "content must be an object")
    check_json(content, floats=False)
    if event_type == M_ROOM_RETENTION and state_key is not None:
        parse_retention(content)
    check_self_destruct(content, is_state=state_key is not None)


def check_events_input(events: Iterable[tuple[str, str | None, JsonDict]]) -> None:
    """`check_event_input` for several events, plus their size, before any is sent.

    Raises:
        MatrixError: `M_BAD_JSON`, or `M_TOO_LARGE` for content that cannot fit an event.
    """
    for event_type, state_key, content in events:
        check_event_input(event_type, state_key, content)
        if len(encode_canonical(content)) > MAX_PDU_BYTES - _ENVELOPE_BYTES:
            raise MatrixError(M_TOO_LARGE, f"{event_type} content is too large for an event")


def _check_key(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise MatrixError(M_BAD_JSON, f"{name} must be a string")
    if "\x00" in value:
        raise MatrixError(M_BAD_JSON, f"{name} must not contain NUL")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise MatrixError(M_BAD_JSON, f"{name} is not valid Unicode") from exc
    if size > MAX_KEY_BYTES:
        raise MatrixError(M_BAD_JSON, f"{name} is longer than {MAX_KEY_BYTES} bytes")

"""`sdk.expiry.ExpiryTracker` without a network: room retention within the server's limits,
self-destruct at a time or after someone else's read, redactions, encrypted events' cleartext
fields, and keeping the pending entries across a restart."""

from __future__ import annotations

from typing import Any

import pytest

from core.retention import RetentionLimits
from sdk.events import RoomEvent, StateEvent
from sdk.expiry import (
    REDACTED,
    RETENTION,
    SELF_DESTRUCT,
    ExpiredEvent,
    ExpiryTracker,
    limits_from_configuration,
    self_destruct_fields,
)

ROOM = "!r:hs"
DAY = 86_400_000
T0 = 1_700_000_000_000


def _message(event_id: str, ts: int, sender: str = "@alice:hs", **content: Any) -> RoomEvent:
    body = {"msgtype": "m.text", "body": "hi", **content}
    raw = {
        "event_id": event_id,
        "type": "m.room.message",
        "sender": sender,
        "origin_server_ts": ts,
        "content": body,
    }
    return RoomEvent(ROOM, event_id, "m.room.message", sender, ts, body, raw=raw)


def _policy(max_lifetime: int) -> dict[tuple[str, str], StateEvent]:
    content = {"max_lifetime": max_lifetime}
    event = StateEvent(ROOM, "$p", "m.room.retention", "@alice:hs", T0, content, state_key="")
    return {("m.room.retention", ""): event}


def test_a_rooms_lifetime_applies_within_the_servers_limits() -> None:
    tracker = ExpiryTracker(RetentionLimits(allowed_min=DAY))
    assert tracker.observe(_message("$a", T0), _policy(60_000)) == T0 + DAY  # raised to a day
    assert tracker.observe(_message("$b", T0 + 5), _policy(60_000)) == T0 + 5 + DAY
    assert ExpiryTracker().observe(_message("$c", T0), {}) is None  # no policy, no default
    assert tracker.due(T0 + DAY - 1) == []
    assert tracker.due(T0 + DAY + 5) == [
        ExpiredEvent(ROOM, "$a", RETENTION),
        ExpiredEvent(ROOM, "$b", RETENTION),
    ]
    assert tracker.due(T0 + 10 * DAY) == []  # each once


def test_the_servers_default_and_a_policy_change() -> None:
    tracker = ExpiryTracker()
    tracker.set_limits(limits_from_configuration({"policies": {"*": {"max_lifetime": 2 * DAY}}}))
    assert tracker.observe(_message("$a", T0), {}) == T0 + 2 * DAY
    tracker.room_changed(ROOM, _policy(DAY))
    assert tracker.next_due() == T0 + DAY


def test_self_destruct_at_a_time_and_after_someone_elses_read() -> None:
    tracker = ExpiryTracker()
    at = tracker.observe(_message("$t", T0, **{"org.matrix.self_destruct_after": T0 + 500}), {})
    assert at == T0 + 500
    on_read = _message("$r", T0 + 1, **{"org.matrix.self_destruct": 1_000})
    assert tracker.observe(on_read, {}) is None
    later = _message("$l", T0 + 2, sender="@bob:hs")
    tracker.observe(later, {})
    # The sender's own receipt starts nothing; bob's receipt on a later event covers it.
    assert not tracker.receipts(ROOM, {"$r": {"m.read": {"@alice:hs": {"ts": T0 + 10}}}}, T0)
    assert tracker.receipts(ROOM, {"$l": {"m.read": {"@bob:hs": {"ts": T0 + 20}}}}, T0)
    assert tracker.next_due() == T0 + 500
    assert tracker.due(T0 + 500) == [ExpiredEvent(ROOM, "$t", SELF_DESTRUCT)]
    assert tracker.due(T0 + 1_019) == []
    assert tracker.due(T0 + 1_020) == [ExpiredEvent(ROOM, "$r", SELF_DESTRUCT)]


def test_a_redaction_drops_its_target_at_once() -> None:
    tracker = ExpiryTracker()
    target = _message("$x", T0, **{"org.matrix.self_destruct_after": T0 + DAY})
    tracker.observe(target, {})
    raw = {"type": "m.room.redaction", "redacts": "$x", "content": {}}
    redaction = RoomEvent(
        ROOM, "$red", "m.room.redaction", "@alice:hs", T0, {}, redacts="$x", raw=raw
    )
    tracker.observe(redaction, {})
    assert tracker.next_due() == 0
    assert tracker.due(T0) == [ExpiredEvent(ROOM, "$x", REDACTED)]
    assert tracker.next_due() is None


def test_encrypted_events_carry_their_fields_beside_the_ciphertext() -> None:
    outer_content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "xyz",
        "org.matrix.self_destruct_after": T0 + 9,
    }
    outer_raw = {"type": "m.room.encrypted", "origin_server_ts": T0, "content": outer_content}
    outer = RoomEvent(ROOM, "$e", "m.room.encrypted", "@alice:hs", T0, outer_content, raw=outer_raw)
    decrypted = RoomEvent(
        ROOM, "$e", "m.room.message", "@alice:hs", T0, {"body": "secret"}, encrypted=outer
    )
    tracker = ExpiryTracker()
    assert tracker.observe(outer, {}) == T0 + 9
    other = ExpiryTracker()
    assert other.observe(decrypted, {}) == T0 + 9


def test_pending_entries_survive_a_restart_without_what_was_said() -> None:
    tracker = ExpiryTracker()
    tracker.observe(
        _message("$s", T0, body="the secret plan", **{"org.matrix.self_destruct": 50}), {}
    )
    tracker.observe(_message("$t", T0, **{"org.matrix.self_destruct_after": T0 + 7}), {})
    saved = tracker.snapshot()
    assert "the secret plan" not in str(saved)
    again = ExpiryTracker()
    again.restore(saved)
    assert again.next_due() == T0 + 7
    assert again.receipts(ROOM, {"$s": {"m.read": {"@bob:hs": {"ts": T0 + 100}}}}, T0)
    assert [e.event_id for e in again.due(T0 + 150)] == ["$t", "$s"]
    again.restore({"entries": {"$bad": {"raw": "x"}, "$worse": 5}, "order": {"r": "x"}})
    assert again.next_due() is None


def test_self_destruct_fields_for_sending() -> None:
    fields = self_destruct_fields(5_000, 1_000)
    assert fields["org.matrix.self_destruct"] == 1_000
    assert isinstance(fields["org.matrix.self_destruct_after"], int)
    assert self_destruct_fields(None, None) == {}
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValueError, match="positive"):
            self_destruct_fields(bad, None)  # type: ignore[arg-type]

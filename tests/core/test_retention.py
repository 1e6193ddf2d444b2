"""`core.retention`: MSC1763 policies, the server's limits, self-destruct fields, expiry times
and the media an event names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import M_BAD_JSON, MatrixError
from core.retention import (
    MAX_LIFETIME_MS,
    SELF_DESTRUCT,
    SELF_DESTRUCT_AFTER,
    MediaRef,
    RetentionLimits,
    RetentionPolicy,
    SelfDestruct,
    check_self_destruct,
    event_expiry,
    media_refs,
    parse_mxc,
    parse_retention,
    read_retention,
    read_self_destruct,
)

DAY = 86_400_000


def test_a_policy_is_read_with_either_lifetime() -> None:
    assert parse_retention({}) == RetentionPolicy()
    assert parse_retention({"max_lifetime": DAY}) == RetentionPolicy(max_lifetime=DAY)
    both = parse_retention({"min_lifetime": 1, "max_lifetime": 2})
    assert both == RetentionPolicy(min_lifetime=1, max_lifetime=2)


@pytest.mark.parametrize(
    "content",
    [
        {"max_lifetime": -1},
        {"min_lifetime": -5},
        {"max_lifetime": "86400000"},
        {"max_lifetime": 1.5},
        {"max_lifetime": True},
        {"max_lifetime": MAX_LIFETIME_MS + 1},
        {"min_lifetime": [1]},
        {"min_lifetime": 10, "max_lifetime": 5},
    ],
)
def test_invalid_policies_are_bad_json(content: dict[str, object]) -> None:
    with pytest.raises(MatrixError) as caught:
        parse_retention(content)
    assert caught.value.errcode == M_BAD_JSON
    assert read_retention(content) is None


def test_the_server_default_applies_without_a_room_max_lifetime() -> None:
    limits = RetentionLimits(default_max_lifetime=7 * DAY)
    assert limits.max_lifetime(None) == 7 * DAY
    assert limits.max_lifetime(RetentionPolicy(min_lifetime=DAY)) == 7 * DAY
    assert RetentionLimits().max_lifetime(None) is None


def test_room_lifetimes_are_clamped_into_the_allowed_range() -> None:
    limits = RetentionLimits(default_max_lifetime=7 * DAY, allowed_min=DAY, allowed_max=30 * DAY)
    assert limits.max_lifetime(RetentionPolicy(max_lifetime=60_000)) == DAY
    assert limits.max_lifetime(RetentionPolicy(max_lifetime=365 * DAY)) == 30 * DAY
    assert limits.max_lifetime(RetentionPolicy(max_lifetime=3 * DAY)) == 3 * DAY


def test_a_min_lifetime_above_the_lifetime_raises_it() -> None:
    limits = RetentionLimits(default_max_lifetime=DAY)
    assert limits.max_lifetime(RetentionPolicy(min_lifetime=3 * DAY)) == 3 * DAY


def test_retention_off_keeps_everything() -> None:
    limits = RetentionLimits(enabled=False, default_max_lifetime=DAY)
    assert limits.max_lifetime(RetentionPolicy(max_lifetime=DAY)) is None


@given(
    lifetime=st.integers(0, MAX_LIFETIME_MS),
    low=st.none() | st.integers(0, 10 * DAY),
    span=st.integers(0, 10 * DAY),
)
def test_clamped_lifetimes_stay_in_bounds(lifetime: int, low: int | None, span: int) -> None:
    high = None if low is None else low + span
    limits = RetentionLimits(default_max_lifetime=DAY, allowed_min=low, allowed_max=high)
    result = limits.max_lifetime(RetentionPolicy(max_lifetime=lifetime))
    assert result is not None
    assert low is None or result >= low
    assert high is None or result <= high


def test_self_destruct_fields_are_checked_for_clients() -> None:
    fields = check_self_destruct({SELF_DESTRUCT_AFTER: 5, SELF_DESTRUCT: 10}, is_state=False)
    assert fields == SelfDestruct(at_ms=5, after_read_ms=10)
    assert check_self_destruct({"body": "x"}, is_state=True) == SelfDestruct()
    for bad in (
        {SELF_DESTRUCT_AFTER: -1},
        {SELF_DESTRUCT_AFTER: "soon"},
        {SELF_DESTRUCT: 0},
        {SELF_DESTRUCT: 2.5},
        {SELF_DESTRUCT: None, SELF_DESTRUCT_AFTER: False},
    ):
        with pytest.raises(MatrixError) as caught:
            check_self_destruct(bad, is_state=False)
        assert caught.value.errcode == M_BAD_JSON
    with pytest.raises(MatrixError):
        check_self_destruct({SELF_DESTRUCT: 10}, is_state=True)


def test_stored_events_keep_only_valid_fields() -> None:
    raw = {"type": "m.room.message", "content": {SELF_DESTRUCT_AFTER: "x", SELF_DESTRUCT: 7}}
    assert read_self_destruct(raw) == SelfDestruct(after_read_ms=7)
    state = {"type": "m.room.name", "state_key": "", "content": {SELF_DESTRUCT_AFTER: 1}}
    assert read_self_destruct(state) == SelfDestruct()
    assert read_self_destruct({"content": "not an object"}) == SelfDestruct()


def test_an_event_expires_at_the_earliest_time_that_applies() -> None:
    raw = {"origin_server_ts": 1_000, "content": {SELF_DESTRUCT_AFTER: 5_000}}
    assert event_expiry(raw, None) == 5_000
    assert event_expiry(raw, 2_000) == 3_000
    after_read = {"origin_server_ts": 1_000, "content": {SELF_DESTRUCT: 500}}
    assert event_expiry(after_read, None) is None  # not read yet
    assert event_expiry(after_read, None, read_ts=2_000) == 2_500
    assert event_expiry({"origin_server_ts": 1, "state_key": "", "content": {}}, 1) is None
    assert event_expiry({"content": {}}, None) is None


def test_media_references_are_found_in_attachments_and_encrypted_files() -> None:
    content = {
        "msgtype": "m.image",
        "url": "mxc://example.org/plain",
        "info": {
            "thumbnail_url": "mxc://example.org/thumb",
            "thumbnail_file": {"url": "mxc://other.example/encthumb", "key": {}},
        },
        "file": {"url": "mxc://other.example/enc_file-1"},
        "body": "mxc://example.org/not-a-url-key",
        "nested": [{"url": "mxc://example.org/in_list"}],
    }
    assert media_refs(content) == [
        MediaRef("example.org", "in_list"),
        MediaRef("example.org", "plain"),
        MediaRef("example.org", "thumb"),
        MediaRef("other.example", "enc_file-1"),
        MediaRef("other.example", "encthumb"),
    ]


@pytest.mark.parametrize(
    "value",
    ["http://x/y", "mxc://", "mxc://server", "mxc://server/", "mxc://s/../etc", "mxc://s/a/b"],
)
def test_malformed_media_uris_are_ignored(value: str) -> None:
    assert parse_mxc(value) is None
    assert media_refs({"url": value}) == []


def test_media_references_are_bounded() -> None:
    deep: dict[str, object] = {"url": "mxc://s/deep"}
    for _ in range(20):
        deep = {"x": deep}
    assert media_refs(deep) == []
    many = {"items": [{"url": f"mxc://s/m{i}"} for i in range(100)]}
    assert len(media_refs(many)) == 32

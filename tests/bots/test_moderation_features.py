"""The moderation bot's features, scorer and detector on hand-made telemetry records."""

from __future__ import annotations

from typing import Any

from bots.moderation.detector import Detector
from bots.moderation.features import FEATURES, IpWindow, endpoint_class
from bots.moderation.model import TrainingSet, fit

LOGIN = "/_matrix/client/v3/login"
SYNC = "/_matrix/client/v3/sync"
SEND = "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}"


def record(ts_s: float, ip: str = "10.0.0.1", **fields: Any) -> dict[str, Any]:
    base = {"ts": int(ts_s * 1000), "ip": ip, "method": "GET", "endpoint": SYNC, "status": 200}
    return base | fields


def failed_login(ts_s: float, target: str, exists: bool, ip: str = "10.0.0.9") -> dict[str, Any]:
    signal = {"kind": "login", "ok": False, "target": target, "target_exists": exists}
    return record(ts_s, ip, method="POST", endpoint=LOGIN, status=403, signal=signal)


def message(ts_s: float, simhash: str, links: int, room: str = "!r:x") -> dict[str, Any]:
    signal = {"kind": "message", "ok": True, "room_id": room, "links": links, "simhash": simhash}
    return record(ts_s, "10.0.0.5", method="PUT", endpoint=SEND, signal=signal, user_id="@s:x")


def features_of(window: IpWindow) -> dict[str, float]:
    return dict(zip(FEATURES, window.features(), strict=True))


def test_login_failures_count_targets_and_missing_accounts() -> None:
    window = IpWindow("10.0.0.9")
    for i in range(6):
        window.add(failed_login(i * 2, f"@u{i}:x", exists=i < 2))
    values = features_of(window)
    assert values["login_fail_60"] == 6
    assert values["login_targets"] == 6
    assert values["missing_share"] == 4 / 6
    assert values["err_share"] == 1.0
    # Ten minutes later the failures have left the windows.
    window.add(record(700, "10.0.0.9"))
    values = features_of(window)
    assert values["login_fail_600"] == 0
    assert values["req_600"] == 1


def test_near_duplicate_messages_and_links() -> None:
    window = IpWindow("10.0.0.5")
    window.add(message(0, "8c0b6a0dbd1c94c1", 1))
    window.add(message(1, "8c0b6a0db91c94c1", 1, room="!q:x"))  # one bit away
    window.add(message(2, "e27b6e53b8a6f904", 0))
    values = features_of(window)
    assert values["messages"] == 3
    assert values["dup_share"] == 1 / 3
    assert values["link_share"] == 2 / 3
    assert values["rooms_messaged"] == 2
    assert values["users"] == 1


def test_regular_gaps_have_a_low_variation() -> None:
    regular, irregular = IpWindow("a"), IpWindow("b")
    for i in range(20):
        regular.add(record(i * 0.5, "a"))
        irregular.add(record(i * 0.5 + (i % 3) * 0.4, "b"))
    assert features_of(regular)["gap_cv"] < 0.01 < features_of(irregular)["gap_cv"]
    assert endpoint_class("/_matrix/client/v3/profile/{userId}") == "lookup"
    assert endpoint_class(None) == "none"


def _training() -> TrainingSet:
    """Rows of stuffers (many failed logins on many targets) and of people (syncing)."""
    rows, labels, groups = [], [], []
    for i in range(40):
        stuffer, person = IpWindow(f"s{i}"), IpWindow(f"p{i}")
        for k in range(5 + i % 7):
            stuffer.add(failed_login(k, f"@t{k}:x", exists=k % 4 == 0, ip=f"s{i}"))
            person.add(record(k * 7, f"p{i}", user_id=f"@p{i}:x"))
        rows += [stuffer.features(), person.features()]
        labels += [1, 0]
        groups += [f"s{i}", f"p{i}"]
    return TrainingSet(rows, labels, groups, threshold=0.8, meta={})


def test_detector_flags_the_stuffer_once_and_explains_it() -> None:
    detector = Detector(fit(_training()), own_user="@bot:x")
    for k in range(8):
        detector.observe(failed_login(k, f"@t{k}:x", exists=False, ip="192.0.2.66"))
        detector.observe(record(k * 3, "192.0.2.10", user_id="@p:x"))
        detector.observe(
            failed_login(k, f"@t{k}:x", exists=False, ip="192.0.2.99") | {"user_id": "@bot:x"}
        )
    # A first look above the threshold is not enough: the next request must confirm it.
    assert detector.tick() == []
    assert detector.scores["192.0.2.66"] >= 0.8
    detector.observe(failed_login(8.5, "@t8:x", exists=False, ip="192.0.2.66"))
    flags = detector.tick()
    assert [f.ip for f in flags] == ["192.0.2.66"]
    flag = flags[0]
    assert flag.score >= 0.8
    assert flag.evidence
    assert flag.evidence[0][2] > 0
    assert "score" in flag.reason()
    assert "192.0.2.99" not in detector.windows  # the bot's own requests are ignored
    detector.observe(failed_login(9, "@t9:x", exists=False, ip="192.0.2.66"))
    assert detector.tick() == []  # flagged once
    assert detector.unflag("192.0.2.66") is flag
    detector.observe(failed_login(10, "@t10:x", exists=False, ip="192.0.2.66"))
    assert detector.tick() == []
    detector.observe(failed_login(10.5, "@t11:x", exists=False, ip="192.0.2.66"))
    assert [f.ip for f in detector.tick()] == ["192.0.2.66"]
    detector.allow("192.0.2.66")
    for k in (11, 12):
        detector.observe(failed_login(k, f"@t{k}:x", exists=False, ip="192.0.2.66"))
        assert detector.tick() == []

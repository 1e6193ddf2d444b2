"""Pure parts of moderation: fingerprints, the client address behind proxies, policy rules."""

from __future__ import annotations

from ipaddress import ip_network

from homeserver.api.client_address import client_address
from homeserver.services.moderation.fingerprint import (
    hamming,
    link_count,
    normalise,
    text_signal,
)
from homeserver.services.moderation.policy import PolicyRules, glob_pattern, parse_rule


def distance(a: str, b: str) -> int:
    return hamming(int(text_signal(a).simhash, 16), int(text_signal(b).simhash, 16))


def test_mutations_of_one_text_stay_close_and_other_texts_do_not() -> None:
    spam = "Cheap meds without prescription at https://deals.example/123 order now"
    mutated = "CH3AP m3ds with\u200bout prescr1ption at https://deals.example/98765 0rder now 💊"
    other = "Are we still meeting at noon for the design review tomorrow?"
    assert distance(spam, mutated) <= 6
    assert distance(spam, other) > 16
    assert normalise("H\u200bE\u200bLLO 💊 W0RLD") == "hello world"
    assert link_count("see https://a.example/x and www.b.example, not c.example") == 2
    signal = text_signal(spam)
    assert (signal.length, signal.links, len(signal.simhash)) == (len(spam), 1, 16)


def test_forwarded_for_is_read_from_the_right_past_trusted_proxies() -> None:
    proxies = (ip_network("10.0.0.0/8"),)
    # A forged left-most entry is ignored: the proxy appended the real client.
    assert client_address("10.0.0.2", "6.6.6.6, 203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("10.0.0.2", "203.0.113.7, 10.0.0.5", proxies) == "203.0.113.7"
    assert client_address("10.0.0.2", "garbage", proxies) == "10.0.0.2"
    assert client_address("192.0.2.1", "203.0.113.7", proxies) == "192.0.2.1"
    assert client_address("::ffff:192.0.2.1", None, ()) == "192.0.2.1"
    assert client_address("10.0.0.2", "10.0.0.3", proxies) == "10.0.0.3"


def test_policy_rules_parse_and_match() -> None:
    def rule(kind: str, entity: object, recommendation: str = "m.ban") -> object:
        content = {"entity": entity, "recommendation": recommendation, "reason": "r"}
        return parse_rule(kind, content, "!p:x", "$e", 1)

    assert rule("m.policy.rule.user", "@spam*:x") is not None
    assert rule("m.room.rule.user", "@spam*:x") is not None
    assert rule("m.policy.rule.user", "@a:x", "m.mute") is None
    assert rule("m.policy.rule.user", 5) is None
    assert rule("org.tessera.policy.rule.ip", "10.0.0.1/8") is None
    assert rule("m.room.message", "@a:x") is None
    rules = PolicyRules.of(
        r  # type: ignore[misc]
        for r in [
            rule("m.policy.rule.user", "@spam*:x"),
            rule("m.policy.rule.server", "*.evil.example"),
            rule("org.tessera.policy.rule.ip", "192.0.2.0/24"),
        ]
    )
    assert rules.match("user", "@spammer:x") is not None
    assert rules.match("user", "@friend:x") is None
    assert rules.match("server", "a.evil.example") is not None
    assert rules.match("server", "evil.example") is None
    assert [str(n) for n, _ in rules.networks()] == ["192.0.2.0/24"]
    assert glob_pattern("a?c").fullmatch("abc")
    assert not glob_pattern("a?c").fullmatch("abbc")

"""Moderation policy lists (spec: "Moderation policy lists") read into rules, with no I/O.

A policy room's state holds rules: `m.policy.rule.user`, `.room` and `.server` events (and the
older `m.room.rule.*` / `org.matrix.mjolnir.rule.*` names) whose `entity` is a glob (`*`, `?`),
and Tessera's `org.tessera.policy.rule.ip` whose entity is an IP address or CIDR network. Only
the `m.ban` recommendation is acted on; a rule whose content was emptied or redacted is gone.

Invariant: a rule that does not parse (missing entity, bad glob or network, other
recommendation) is skipped, never fatal: policy rooms are written by other people.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.errors import MatrixError
from homeserver.services.moderation.ip_blocks import Network, parse_network

__all__ = ["IP_RULE", "PolicyRule", "PolicyRules", "glob_pattern", "parse_rule", "rule_kind"]

IP_RULE: Final = "org.tessera.policy.rule.ip"
_KINDS: Final = {
    **{
        f"{prefix}.{kind}": kind
        for prefix in ("m.policy.rule", "m.room.rule", "org.matrix.mjolnir.rule")
        for kind in ("user", "room", "server")
    },
    IP_RULE: "ip",
}
_BANS: Final = frozenset({"m.ban", "org.matrix.mjolnir.ban"})
_MAX_ENTITY: Final = 255


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ban recommendation of a policy room."""

    kind: str  # user, room, server or ip
    entity: str
    reason: str
    room_id: str
    event_id: str
    ts: int


def rule_kind(event_type: str) -> str | None:
    """`user`, `room`, `server` or `ip` for a rule event type, None for other types."""
    return _KINDS.get(event_type)


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A regex matching what the Matrix glob `glob` matches (`*` any run, `?` one character)."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)
    return re.compile("".join(parts), re.DOTALL)


def parse_rule(
    event_type: str, content: Mapping[str, Any], room_id: str, event_id: str, ts: int
) -> PolicyRule | None:
    """The ban rule a policy event states, None if it states none we act on."""
    kind = rule_kind(event_type)
    entity, recommendation = content.get("entity"), content.get("recommendation")
    if kind is None or recommendation not in _BANS:
        return None
    if not isinstance(entity, str) or not 0 < len(entity) <= _MAX_ENTITY:
        return None
    reason = content.get("reason")
    reason = reason[:1000] if isinstance(reason, str) else ""
    if kind == "ip":
        try:
            parse_network(entity)
        except MatrixError:
            return None
    return PolicyRule(kind, entity, reason, room_id, event_id, ts)


@dataclass(slots=True)
class PolicyRules:
    """The ban rules of every followed policy room, ready for matching."""

    rules: list[PolicyRule] = field(default_factory=list)
    _patterns: dict[str, list[tuple[re.Pattern[str], PolicyRule]]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Iterable[PolicyRule]) -> PolicyRules:
        """Rules compiled for matching."""
        kept = list(rules)
        patterns: dict[str, list[tuple[re.Pattern[str], PolicyRule]]] = {}
        for rule in kept:
            if rule.kind != "ip":
                patterns.setdefault(rule.kind, []).append((glob_pattern(rule.entity), rule))
        return cls(kept, patterns)

    def match(self, kind: str, value: str) -> PolicyRule | None:
        """The first rule of `kind` (`user`, `room`, `server`) banning `value`, if any."""
        for pattern, rule in self._patterns.get(kind, ()):
            if pattern.fullmatch(value):
                return rule
        return None

    def has(self, kind: str) -> bool:
        """Whether there is any rule of `kind`."""
        return bool(self._patterns.get(kind))

    def networks(self) -> list[tuple[Network, PolicyRule]]:
        """The networks the IP rules ban."""
        return [(parse_network(r.entity), r) for r in self.rules if r.kind == "ip"]

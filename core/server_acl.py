"""Server access control lists (`m.room.server_acl`): whether a server may take part in a room.

The spec's order ("m.room.server_acl" event schema), applied to the server name without its
port: no ACL allows everyone; an IP literal is denied when `allow_ip_literals` is `false`; a
match in `deny` denies (deny wins over allow); a match in `allow` allows; anything else is
denied. Patterns are case-insensitive globs (`*` any run of characters, `?` exactly one).

A malformed ACL is read leniently, as the schema's defaults say: `allow_ip_literals` that is
not a boolean counts as `true`, an `allow` or `deny` that is not a list counts as empty, and
entries that are not strings are ignored. So an ACL without a usable `allow` denies every
server, the sender's own included.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.push_conditions import compile_glob

__all__ = ["ServerAcl", "host_of"]

_MAX_PATTERNS: Final = 1000
"""Entries read from each list; a longer list is cut (an ACL event is at most 64 KiB)."""


def host_of(server_name: str) -> str:
    """`server_name` without its port: `example.org:8448` → `example.org`, `[::1]:8448` →
    `[::1]`, `1.2.3.4:80` → `1.2.3.4`."""
    if server_name.startswith("["):
        end = server_name.find("]")
        return server_name[: end + 1] if end != -1 else server_name
    return server_name.rsplit(":", 1)[0] if ":" in server_name else server_name


def _is_ip_literal(host: str) -> bool:
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        return False
    return True


def _patterns(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(p for p in value[:_MAX_PATTERNS] if isinstance(p, str))


@dataclass(frozen=True, slots=True)
class ServerAcl:
    """The rules of one `m.room.server_acl` event's content.

    Attributes:
        allow: Globs of the servers allowed.
        deny: Globs of the servers denied (checked first).
        allow_ip_literals: Whether servers named by an IP address may take part.
    """

    allow: tuple[str, ...]
    deny: tuple[str, ...]
    allow_ip_literals: bool = True

    @classmethod
    def from_content(cls, content: Mapping[str, Any]) -> ServerAcl:
        """The ACL an event's content describes, read with the schema's defaults."""
        literals = content.get("allow_ip_literals")
        return cls(
            allow=_patterns(content.get("allow")),
            deny=_patterns(content.get("deny")),
            allow_ip_literals=literals if isinstance(literals, bool) else True,
        )

    def allows(self, server_name: str) -> bool:
        """Whether `server_name` (with or without a port) may take part in the room."""
        host = host_of(server_name)
        if not self.allow_ip_literals and _is_ip_literal(host):
            return False
        if any(compile_glob(p, word_boundary=False).matches(host) for p in self.deny):
            return False
        return any(compile_glob(p, word_boundary=False).matches(host) for p in self.allow)

"""The `moderation:` section of the configuration (see `example_config.yaml`).

Checked like every other section by `config_loader`: each problem is one line naming the
dotted key (`moderation.policy_rooms[0]`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from core.identifiers import parse_room_alias, parse_room_id

__all__ = ["ModerationConfig"]

# The metadata key `config_loader` reads field checks from (as `config.CHECK_KEY`, repeated
# because `config` imports this module).
CHECK_KEY: Final = "tessera.config.check"


def _policy_room(value: str) -> str:
    try:
        (parse_room_id if value.startswith("!") else parse_room_alias)(value)
    except ValueError as exc:
        raise ValueError("expected a room ID (!id:server) or alias (#name:server)") from exc
    return value


def _at_least(low: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise ValueError(f"must be at least {low}")
        return value

    return check


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    """Request telemetry, the IP blocklist and the followed policy lists.

    Attributes:
        enabled: Record telemetry and enforce IP blocks and policy lists.
        telemetry_buffer: How many request records the ring buffer keeps.
        policy_rooms: Policy rooms (IDs or aliases) whose ban rules this server applies.
    """

    enabled: bool = True
    telemetry_buffer: int = field(default=50_000, metadata={CHECK_KEY: _at_least(100)})
    policy_rooms: tuple[str, ...] = field(default=(), metadata={CHECK_KEY: _policy_room})

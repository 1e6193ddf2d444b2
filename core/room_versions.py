"""Room versions as data (spec: "Room Versions").

Each version is a frozen record of rule flags, derived from the previous one with
`dataclasses.replace`. Code reads flags; it never compares version strings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class RoomVersion:
    """The rule flags of one room version.

    Attributes:
        identifier: The version string, e.g. "10".
        stable: Whether the spec marks it stable.
        event_id_from_reference_hash: Event IDs are `$` + URL-safe unpadded base64 of the
            reference hash (versions 4+).
        knock_join_rule: The `knock` join rule exists (7+).
        restricted_join_rule: The `restricted` join rule exists (8+).
        restricted_join_authorised_via: Redaction keeps `join_authorised_via_users_server` (9+).
        knock_restricted_join_rule: The `knock_restricted` join rule exists (10+).
        integer_power_levels: Power level values must be integers, not strings (10+).
        implicit_room_creator: The creator is the create event's sender; `creator` is not
            required in its content (11+).
        redacts_in_content: `redacts` lives in a redaction's content, not at top level (11+).
        updated_redaction_rules: Version 11 redaction: keep all of `m.room.create` content,
            `invite` in power levels, `redacts` in redaction content; drop top-level
            `origin`, `membership` and `prev_state`.
        special_case_aliases_auth: `m.room.aliases` events have their own auth rule (1-5).
        strict_canonical_json: Events with floats or out-of-range integers are rejected (6+).
        limit_notifications_power_levels: `notifications` counts in the power levels check (6+).
        privileged_creators: The create event's sender and `content.additional_creators` are
            the room's creators, with a power level above any integer; power levels may not
            list them in `users` (12+, MSC4289).
        room_id_from_create_event: The room ID is the create event's ID with the `!` sigil;
            the create event has no `room_id` and is never listed in `auth_events` (12+,
            MSC4291).
        state_res_v2_1: State resolution v2.1: the iterative auth checks start from an empty
            state and the full conflicted set includes the conflicted state subgraph (12+,
            MSC4297).
    """

    identifier: str
    stable: bool = True
    event_id_from_reference_hash: bool = True
    knock_join_rule: bool = True
    restricted_join_rule: bool = True
    restricted_join_authorised_via: bool = True
    knock_restricted_join_rule: bool = True
    integer_power_levels: bool = True
    implicit_room_creator: bool = False
    redacts_in_content: bool = False
    updated_redaction_rules: bool = False
    special_case_aliases_auth: bool = False
    strict_canonical_json: bool = True
    limit_notifications_power_levels: bool = True
    privileged_creators: bool = False
    room_id_from_create_event: bool = False
    state_res_v2_1: bool = False


V10: Final = RoomVersion(identifier="10")
V11: Final = dataclasses.replace(
    V10,
    identifier="11",
    implicit_room_creator=True,
    redacts_in_content=True,
    updated_redaction_rules=True,
)

V12: Final = dataclasses.replace(
    V11,
    identifier="12",
    privileged_creators=True,
    room_id_from_create_event=True,
    state_res_v2_1=True,
)

# Every version whose rules this package implements: what the auth rules recognise (rule 1.3).
ROOM_VERSIONS: Final[dict[str, RoomVersion]] = {v.identifier: v for v in (V10, V11, V12)}
# The versions the server offers for new rooms and accepts for stored ones.
KNOWN_ROOM_VERSIONS: Final[dict[str, RoomVersion]] = {v.identifier: v for v in (V10, V11, V12)}
# The version of new rooms unless configured otherwise (`default_room_version`).
DEFAULT_ROOM_VERSION: Final = V12


def get_room_version(identifier: str) -> RoomVersion | None:
    """The room version named `identifier`, or None if this server does not support it."""
    return KNOWN_ROOM_VERSIONS.get(identifier)


def get_protocol_room_version(identifier: str) -> RoomVersion | None:
    """The room version named `identifier` if its rules are implemented here, else None.

    Wider than `get_room_version`: it also knows versions the server does not offer yet,
    which is what reading remote events and the auth rules' recognised versions need.
    """
    return ROOM_VERSIONS.get(identifier)

"""Room timeline tokens: the `from`/`to`/`start`/`end` of `/messages` and `/context`, and the
`at` of `/members`.

Every event has a stream ordering N (a global, strictly increasing position, see
`storage/events.py`). A token names a *gap* between events, never an event:

- `t{N}` is the position just after every event with stream ordering <= N.
  Paginating `dir=b` from `t{N}` returns events with ordering <= N, newest first; paginating
  `dir=f` from `t{N}` returns events with ordering > N, oldest first. As a `to` bound, `t{M}`
  stops `dir=b` before events <= M and `dir=f` after events <= M.
- History fetched from other servers after we joined a room (backfill) sits below 0:
  `t-{N}` names a gap among those events, so a page going backwards runs on into them.
  `ROOM_START` is below every position, the start of every room.
- `/sync`'s `next_batch` (`s{N}_{…}`) is accepted and means `t{N}`; its `prev_batch` is
  `t{N}` with N one less than the first timeline event's ordering, so `dir=b` from it continues
  exactly where the timeline starts.

Tokens are stable: the same token always names the same point, whatever is sent later.
Anything else is `M_INVALID_PARAM`.
"""

from __future__ import annotations

import re
from typing import Final

from core.errors import M_INVALID_PARAM, MatrixError

# At most 18 digits, so every position fits a signed 64-bit column.
_TOKEN: Final = re.compile(r"t(-?[0-9]{1,18})|s([0-9]{1,18})(?:_[0-9]{1,18})*")

ROOM_START: Final = -(10**18 - 1)
"""A position below every event of every room."""


def parse_position(token: str) -> int:
    """The stream position a timeline or sync token names.

    Raises:
        MatrixError: `M_INVALID_PARAM` for anything that is not such a token.
    """
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise MatrixError(M_INVALID_PARAM, "Invalid pagination token")
    return int(match.group(1) or match.group(2))


def position_token(position: int) -> str:
    """The token of the gap after every event with stream ordering <= `position`."""
    return f"t{max(position, ROOM_START)}"

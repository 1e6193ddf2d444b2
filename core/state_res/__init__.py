"""State resolution v2 and v2.1 (room versions 2 to 11, and 12), without I/O.

The caller passes the state sets to merge, every event the algorithm reaches (the auth
chain closure of the state sets, keyed by event ID) and the room version; the result is the
resolved state map. `missing_auth_events` says which events to fetch first, and
`MissingEventsError` names those still missing if the caller did not ask.

Modules: `graph` (splitting, auth chains and differences, the conflicted subgraph),
`ordering` (power events, reverse topological power ordering, mainline ordering),
`iterative` (iterative auth checks), `resolve` (the algorithm).
"""

from core.state_res.graph import EventMap, MissingEventsError, StateSet, missing_auth_events
from core.state_res.resolve import resolve_state

__all__ = ["EventMap", "MissingEventsError", "StateSet", "missing_auth_events", "resolve_state"]

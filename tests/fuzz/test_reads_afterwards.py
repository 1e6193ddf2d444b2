"""After all the fuzzing of a backend: every user's initial `/sync` and the owner's reads work.

The fuzz tests check incremental syncs as they go (cheap); this last one reads everything from
scratch, which is what a client that logs in afresh would see. It runs after the other fuzz
modules of its backend (pytest keeps module order within the session-scoped backend).
"""

from __future__ import annotations

from tests.fuzz.session import Fuzz


def test_everything_reads_back_from_scratch(fuzz: Fuzz) -> None:
    """Initial syncs of all users, then the owner's account data, profile, messages, backup."""
    fuzz.verify("initial reads after fuzzing", len(fuzz.tally.findings), initial=True)

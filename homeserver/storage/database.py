"""The `Database` abstraction every store is written against.

Stores write one SQL text with `$1`-style placeholders and portable SQL; the two backends
(`sqlite.py`, `postgres.py`) run it unchanged. A `transaction()` yields a `Connection` whose
statements commit together or not at all; a statement outside a transaction commits alone.
Rows come back as plain dicts keyed by column name.

Text arguments must be storable on both backends: PostgreSQL `text` cannot hold NUL, and
neither driver can encode a lone surrogate. Both connections run `check_args` on every
statement, so such a value is refused as a client error (`M_INVALID_PARAM`, 400) before
anything is written, with the same answer on SQLite and PostgreSQL. JSON columns are written
as escaped text (`\\u0000`), so NUL inside JSON values is stored fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from core.errors import M_INVALID_PARAM, MatrixError
from core.text import is_unicode_text

Row = dict[str, Any]


class Connection(Protocol):
    """Statements on one connection, inside a transaction when obtained from `transaction()`."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the number of rows it changed."""
        ...

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each argument tuple in `rows`."""
        ...

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or None."""
        ...

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        """All rows of a query."""
        ...

    async def fetch_val(self, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None when there is no row."""
        ...

    def note_position(self, stream: str, position: int) -> None:
        """Make `position` the known head of `stream` once this connection's work commits."""
        ...


class Database(Connection, Protocol):
    """A database: single statements commit alone; `transaction()` groups them.

    `positions` caches the committed head of each stream counter (see `streams.py`): this
    process advances it after each commit, so reading a stream head costs no query.
    """

    dialect: str
    positions: dict[str, int]

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A connection whose statements commit together when the block exits normally."""
        ...

    async def run_script(self, script: str) -> None:
        """Run several `;`-separated statements in one transaction (migrations)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def advance_positions(positions: dict[str, int], noted: dict[str, int]) -> None:
    """Apply the stream heads a committed transaction noted (heads never move back)."""
    for stream, position in noted.items():
        if position > positions.get(stream, 0):
            positions[stream] = position


def split_script(script: str) -> list[str]:
    """Split a migration script into statements (one per `;` at the end of a line)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        if stripped.endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


def check_args(args: Sequence[Any]) -> None:
    """Refuse statement arguments that one of the backends cannot store (see module docs).

    Raises:
        MatrixError: `M_INVALID_PARAM` for a string with NUL or a lone surrogate.
    """
    for arg in args:
        if type(arg) is str and ("\x00" in arg or not is_unicode_text(arg)):
            raise MatrixError(M_INVALID_PARAM, "Text with NUL or invalid Unicode is not accepted")


def check_rows(rows: Sequence[Sequence[Any]]) -> None:
    """`check_args` for each argument tuple of an `execute_many`."""
    for row in rows:
        check_args(row)

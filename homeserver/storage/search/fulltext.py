"""The full-text index statements of each backend: the one place where stores differ by dialect.

Everything else in `storage/search/` is portable SQL, but a full-text index is not: SQLite has
FTS5 (a contentless virtual table, `schema/0012_search.sql`) and PostgreSQL a `tsvector` column
under GIN (`0012_search.postgres.sql`). Each `FullText` says how to add a document, remove one,
empty the index, and match a query: what to read as `search_fts` and a condition on it (the
document's stream ordering is `search_fts.rowid` on both), and a score where lower is a better
match (FTS5's bm25, and minus `ts_rank` on PostgreSQL). Both receive the terms `core.search_text` computed, never the text, and neither
keeps the text. The terms go in sorted, not as written: the index records which words a
message has and how often (all that ranking uses), but not their order, so its data cannot be
read back as the sentences it came from.

A contentless FTS5 table cannot look a document up to delete it: FTS5's 'delete' command
must be given the same terms that were inserted (`needs_terms_to_delete`). SQLite builds
from 3.43 offer `contentless_delete=1`, which lifts this, but Debian 12 and most Python
builds still ship 3.40, so the index is written to work on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from core.search_text import SearchQuery
from homeserver.storage.database import Database

__all__ = ["FullText", "full_text_for"]

# PostgreSQL keeps at most 256 positions per lexeme (and positions up to 16383).
_MAX_POSITIONS: Final = 255
_MAX_POSITION: Final = 16383


class FullText(Protocol):
    """One backend's full-text statements (see the module docstring)."""

    @property
    def needs_terms_to_delete(self) -> bool:
        """Whether `delete_sql` takes the document's terms after its rowid."""
        ...

    @property
    def insert_sql(self) -> str:
        """Adds a document: `$1` the stream ordering, `$2` the `document` value (after its
        `search_entries` row)."""
        ...

    @property
    def delete_sql(self) -> str:
        """Removes a document: `$1` the stream ordering (and `$2` its terms if needed)."""
        ...

    @property
    def clear_sql(self) -> str:
        """Empties the index."""
        ...

    @property
    def from_sql(self) -> str:
        """What queries read: `search_fts.rowid` (the stream ordering), `s.room_id` and
        `s.kind` (from `search_entries`) of every document."""
        ...

    @property
    def match_sql(self) -> str:
        """The condition on `search_fts` that `$1`, the `query` value, matches."""
        ...

    @property
    def score_sql(self) -> str:
        """How well a matched document matches `$1` (lower is better)."""
        ...

    def document(self, terms: Sequence[str]) -> str:
        """The value `insert_sql` and `delete_sql` take for a document of `terms` (in sorted
        order: see the module docstring)."""
        ...

    def query(self, query: SearchQuery) -> str:
        """The value `match_sql` takes for `query` (all terms must match)."""
        ...


@dataclass(frozen=True, slots=True)
class _Fts5:
    needs_terms_to_delete: bool = True
    insert_sql: str = "INSERT INTO search_fts (rowid, terms) VALUES ($1, $2)"
    delete_sql: str = "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', $1, $2)"
    clear_sql: str = "INSERT INTO search_fts (search_fts) VALUES ('delete-all')"
    from_sql: str = "search_fts JOIN search_entries s ON s.stream_ordering = search_fts.rowid"
    match_sql: str = "search_fts MATCH $1"
    score_sql: str = "bm25(search_fts)"

    def document(self, terms: Sequence[str]) -> str:
        return " ".join(sorted(terms))

    def query(self, query: SearchQuery) -> str:
        # Terms are letters, digits and marks only: quoting makes each a literal string.
        return " AND ".join(
            f'"{term}"*' if query.is_prefix(term) else f'"{term}"' for term in query.terms
        )


@dataclass(frozen=True, slots=True)
class _TsVector:
    needs_terms_to_delete: bool = False
    insert_sql: str = (
        "INSERT INTO search_fts (rowid, terms, room_id, kind)"
        " SELECT $1, $2::tsvector, room_id, kind FROM search_entries WHERE stream_ordering = $1"
    )
    delete_sql: str = "DELETE FROM search_fts WHERE rowid = $1"
    clear_sql: str = "DELETE FROM search_fts"
    # Each document's room and key are copied beside its tsvector, so matching is one scan of
    # the GIN index's matches with no join: a join lets the planner walk a million entries in
    # stream order (or hash them all) for a word in twenty messages. `OFFSET 0` keeps the
    # subquery whole, whatever the planner guesses of the rooms.
    from_sql: str = (
        "(SELECT rowid, room_id, kind FROM search_fts WHERE terms @@ $1::tsquery OFFSET 0)"
        " AS search_fts CROSS JOIN LATERAL (SELECT search_fts.room_id, search_fts.kind) AS s"
    )
    match_sql: str = "TRUE"
    score_sql: str = (
        "(SELECT -ts_rank(f.terms, $1::tsquery, 1)::float8 FROM search_fts f"
        " WHERE f.rowid = search_fts.rowid)"
    )

    def document(self, terms: Sequence[str]) -> str:
        # A tsvector literal ('term':1,5 …): the terms are taken as they are, not re-parsed.
        positions: dict[str, list[int]] = {}
        for index, term in enumerate(sorted(terms), start=1):
            found = positions.setdefault(term, [])
            if len(found) < _MAX_POSITIONS:
                found.append(min(index, _MAX_POSITION))
        return " ".join(
            f"{_quoted(term)}:{','.join(map(str, dict.fromkeys(at)))}"
            for term, at in positions.items()
        )

    def query(self, query: SearchQuery) -> str:
        return " & ".join(
            f"{_quoted(term)}:*" if query.is_prefix(term) else _quoted(term) for term in query.terms
        )


def _quoted(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


_BY_DIALECT: Final[dict[str, FullText]] = {"sqlite": _Fts5(), "postgres": _TsVector()}


def full_text_for(db: Database) -> FullText:
    """The full-text statements of `db`'s backend."""
    return _BY_DIALECT[db.dialect]

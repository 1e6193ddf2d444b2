"""The user directory (spec: `POST /user_directory/search`).

A searcher finds the joined members of rooms they are joined to themselves, and the joined
members of rooms anyone can join (`join_rule: public`) or read (`world_readable`), matching
each word of the term case-insensitively inside the user ID or the global display name.
Deactivated accounts are never found. The searcher finds themselves only through a public
room, as in Synapse. Everything is read live from memberships and profiles, so a join, a
leave or a display name change shows in the very next search.
"""

from __future__ import annotations

from core.errors import M_INVALID_PARAM, JsonDict, MatrixError
from homeserver.services.common.requester import Requester
from homeserver.storage.rooms.directory import DirectoryStore

DEFAULT_LIMIT = 10
# Synapse's cap on results per search.
MAX_LIMIT = 50
# Longer terms are refused: no name is that long, and SQLite refuses LIKE patterns over 50,000 bytes.
MAX_TERM_LENGTH = 1_000


class UserDirectoryService:
    """Searches for users the requester may see."""

    def __init__(self, store: DirectoryStore) -> None:
        self._store = store

    async def search(self, requester: Requester, term: str, limit: int | None) -> JsonDict:
        """`{"results": [...], "limited": bool}`, best matches first.

        Args:
            requester: Who searches; decides which users are visible.
            term: The search term; a blank one finds nobody.
            limit: The most results (default 10, at most 50).
        """
        if limit is not None and limit < 0:
            raise MatrixError(M_INVALID_PARAM, "limit must not be negative")
        if len(term) > MAX_TERM_LENGTH:
            raise MatrixError(M_INVALID_PARAM, f"search_term is longer than {MAX_TERM_LENGTH}")
        wanted = min(DEFAULT_LIMIT if limit is None else limit, MAX_LIMIT)
        if not term.strip() or wanted == 0:
            return {"results": [], "limited": False}
        found = await self._store.search_users(requester.user_id, term, wanted + 1)
        results = []
        for user in found[:wanted]:
            entry: JsonDict = {"user_id": user.user_id}
            if user.display_name is not None:
                entry["display_name"] = user.display_name
            if user.avatar_url is not None:
                entry["avatar_url"] = user.avatar_url
            results.append(entry)
        return {"results": results, "limited": len(found) > wanted}

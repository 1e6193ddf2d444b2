"""Push rules of local users (spec: "Push Rules: API", "Push Rules: Events").

A user's rule set is the server defaults (`core.push_rules.default_ruleset`) with the user's
changes laid over them. It is stored as the global account data `m.push_rules`, whose content
is the whole current rule set `{"global": …}` as the spec wants clients to see it; reading it
back merges it over the current defaults again, so new default rules appear after an upgrade
while the user's own rules and their `enabled` / `actions` choices persist. The account data
API refuses client writes of `m.push_rules`; this service writes it through the store.

Merged and compiled rule sets are cached per user (`push_rules`); every change invalidates the
user's entry through the cache invalidator after it is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from core.errors import JsonDict
from core.identifiers import UserId
from core.push_rule_edits import (
    SCOPE,
    check_kind,
    check_scope,
    delete_user_rule,
    get_rule,
    new_user_rule,
    put_user_rule,
    set_rule_attribute,
)
from core.push_rules import CompiledRuleset, compile_ruleset, default_ruleset, merge_user_rules
from homeserver.caching import CacheRegistry, LruCache
from homeserver.services.common.notifier import Notifier, user_key
from homeserver.storage.accounts.account_data import GLOBAL, AccountDataStore

PUSH_RULES: Final = "m.push_rules"
_CACHE_SIZE: Final = 10_000
PUSH_RULES_CACHE: Final = "push_rules"


class PushRuleService:
    """Reads and changes users' push rules."""

    def __init__(
        self,
        store: AccountDataStore,
        notifier: Notifier,
        caches: CacheRegistry,
        cache_size: int = _CACHE_SIZE,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._caches = caches
        self._cache: LruCache[UserId, tuple[JsonDict, CompiledRuleset]] = caches.lru(
            PUSH_RULES_CACHE, cache_size
        )
        # Changes are read-modify-write of one JSON object: one at a time.
        self._write_lock = asyncio.Lock()

    async def ruleset(self, user_id: UserId) -> JsonDict:
        """The user's current rule set (the value of `global`); do not modify it."""
        return (await self._entry(user_id))[0]

    async def compiled(self, user_id: UserId) -> CompiledRuleset:
        """The user's rule set compiled for evaluation."""
        return (await self._entry(user_id))[1]

    async def account_data_event(self, user_id: UserId) -> JsonDict:
        """The `m.push_rules` global account data event `/sync` shows the user."""
        return {"type": PUSH_RULES, "content": {SCOPE: await self.ruleset(user_id)}}

    async def get_rules(
        self, user_id: UserId, scope: str | None = None, kind: str | None = None
    ) -> Any:
        """`GET /pushrules/`, `/pushrules/{scope}/` or `/pushrules/{scope}/{kind}/`.

        Raises:
            MatrixError: `M_INVALID_PARAM` for a scope other than `global`, `M_UNKNOWN` for a
                bad kind.
        """
        ruleset = await self.ruleset(user_id)
        if scope is None:
            return {SCOPE: ruleset}
        check_scope(scope)
        if kind is None:
            return ruleset
        check_kind(kind)
        return ruleset[kind]

    async def get_rule(self, user_id: UserId, scope: str, kind: str, rule_id: str) -> JsonDict:
        """One rule.

        Raises:
            MatrixError: `M_NOT_FOUND` for an unknown rule; scope and kind errors as above.
        """
        check_scope(scope)
        return get_rule(await self.ruleset(user_id), kind, rule_id)

    async def get_attribute(
        self, user_id: UserId, scope: str, kind: str, rule_id: str, attribute: str
    ) -> JsonDict:
        """`{"enabled": …}` or `{"actions": …}` of a rule.

        Raises:
            MatrixError: as `get_rule`.
        """
        rule = await self.get_rule(user_id, scope, kind, rule_id)
        return {attribute: rule[attribute]}

    async def put_rule(
        self,
        user_id: UserId,
        scope: str,
        kind: str,
        rule_id: str,
        body: JsonDict,
        before: str | None,
        after: str | None,
    ) -> None:
        """Add or replace a user rule, placed relative to `before` / `after`.

        Raises:
            MatrixError: see `core.push_rule_edits.new_user_rule` and `put_user_rule`.
        """
        check_scope(scope)
        rule = new_user_rule(kind, rule_id, body)
        await self._change(user_id, lambda rules: put_user_rule(rules, kind, rule, before, after))

    async def delete_rule(self, user_id: UserId, scope: str, kind: str, rule_id: str) -> None:
        """Delete a user rule.

        Raises:
            MatrixError: `M_NOT_FOUND`, or `M_UNKNOWN` for a server-default rule.
        """
        check_scope(scope)
        await self._change(user_id, lambda rules: delete_user_rule(rules, kind, rule_id))

    async def set_attribute(
        self, user_id: UserId, scope: str, kind: str, rule_id: str, attribute: str, value: object
    ) -> None:
        """Set `enabled` or `actions` of a rule, server-default ones included.

        Raises:
            MatrixError: `M_NOT_FOUND`, or `M_INVALID_PARAM` for a bad value.
        """
        check_scope(scope)
        await self._change(
            user_id, lambda rules: set_rule_attribute(rules, kind, rule_id, attribute, value)
        )

    async def _change(self, user_id: UserId, edit: Callable[[JsonDict], JsonDict]) -> None:
        async with self._write_lock:
            changed = edit(await self.ruleset(user_id))
            await self._store.put(user_id, GLOBAL, PUSH_RULES, {SCOPE: changed})
            self._caches.invalidate(PUSH_RULES_CACHE, user_id)
        self._notifier.notify([user_key(user_id)])

    async def _entry(self, user_id: UserId) -> tuple[JsonDict, CompiledRuleset]:
        entry = self._cache.get(user_id)
        if entry is not None:
            return entry
        stored = await self._store.get(user_id, GLOBAL, PUSH_RULES)
        scoped = stored.get(SCOPE) if stored is not None else None
        ruleset = merge_user_rules(
            default_ruleset(user_id), scoped if isinstance(scoped, dict) else {}
        )
        entry = (ruleset, compile_ruleset(ruleset))
        self._cache.put(user_id, entry)
        return entry

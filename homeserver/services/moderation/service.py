"""The moderation service: telemetry in, the admin API's answers out, the gate's decisions.

`observe` keeps one answered request's `RequestRecord` (with its domain signal) in the ring
buffer; `refusal` says whether a request must be refused before it reaches its handler
(a blocked IP, a local user or room banned by a followed policy list, a federation request
from a banned server). Every admin method checks that the requester is a server admin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from core.errors import M_FORBIDDEN, M_INVALID_PARAM, JsonDict, MatrixError
from core.identifiers import UserId, parse_user_id
from homeserver.clock import Clock
from homeserver.services.common.requester import Requester, require_admin
from homeserver.services.moderation.ip_blocks import IpBlockService, normal_ip
from homeserver.services.moderation.policy_rooms import PolicyListService
from homeserver.services.moderation.signals import domain_signal
from homeserver.services.moderation.summaries import summarise
from homeserver.services.moderation.telemetry import RequestRecord, TelemetryLog
from homeserver.storage.accounts.users import UserStore

__all__ = ["ModerationService"]

MAX_PAGE: Final = 1000
MAX_WAIT_MS: Final = 60_000


class ModerationService:
    """Telemetry, summaries and the checks run before routing."""

    def __init__(
        self,
        *,
        server_name: str,
        telemetry: TelemetryLog,
        ip_blocks: IpBlockService,
        policy: PolicyListService,
        users: UserStore,
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self.telemetry = telemetry
        self.ip_blocks = ip_blocks
        self.policy = policy
        self._users = users
        self._clock = clock

    async def observe(
        self,
        record: RequestRecord,
        name: str | None,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None,
    ) -> None:
        """Keep the telemetry record of an answered request, with its domain signal.

        Args:
            record: What the HTTP layer saw, without a signal.
            name: The endpoint's name in `core.endpoints`, None if it matched none.
            params: The path parameters.
            body: The parsed JSON body, if the handler read one.
        """
        signal = None
        if name is not None:
            signal = domain_signal(name, params, body, record.status, self._server_name)
        if signal is not None:
            if signal["kind"] == "login" and not signal["ok"]:
                signal["target_exists"] = await self._exists(signal.get("target"))
            record = dataclasses.replace(record, signal=signal)
        self.telemetry.append(record)

    async def _exists(self, target: object) -> bool | None:
        if not isinstance(target, str):
            return None
        try:
            user_id = parse_user_id(target)
        except ValueError:
            return False
        return await self._users.get_user(user_id) is not None

    def ip_refusal(self, ip: str) -> MatrixError | None:
        """The error refusing every request from `ip`, if it is blocked."""
        block = self.ip_blocks.blocking(ip)
        if block is None:
            return None
        why = f": {block.reason}" if block.reason else ""
        return MatrixError(
            M_FORBIDDEN, f"Requests from your IP address are blocked on this server{why}"
        )

    def user_refusal(self, user_id: str) -> MatrixError | None:
        """The error refusing a local user a policy list bans, if it bans them."""
        rule = self.policy.rules.match("user", user_id)
        if rule is None:
            return None
        return MatrixError(M_FORBIDDEN, f"This account is banned by a policy list: {rule.reason}")

    def room_refusal(self, room: str) -> MatrixError | None:
        """The error refusing a join of a room (ID or alias) a policy list bans."""
        rule = self.policy.rules.match("room", room)
        if rule is None:
            return None
        return MatrixError(M_FORBIDDEN, f"This room is banned by a policy list: {rule.reason}")

    def server_refusal(self, server_name: str) -> MatrixError | None:
        """The error refusing a federation request from a server a policy list bans."""
        rule = self.policy.rules.match("server", server_name)
        if rule is None:
            return None
        return MatrixError(M_FORBIDDEN, f"Your server is banned by a policy list: {rule.reason}")

    @property
    def bans_users(self) -> bool:
        """Whether a followed policy list bans any user (so requesters are worth checking)."""
        return self.policy.rules.has("user")

    async def read_events(
        self, requester: Requester, since: int, timeout_ms: int, limit: int
    ) -> JsonDict:
        """A long-polled page of telemetry records after `since` (admins only)."""
        require_admin(requester)
        if not 0 < limit <= MAX_PAGE:
            raise MatrixError(M_INVALID_PARAM, f"limit must be from 1 to {MAX_PAGE}")
        page = await self.telemetry.read(since, limit, min(timeout_ms, MAX_WAIT_MS) / 1000)
        return {
            "events": [record.to_json(seq) for seq, record in page.records],
            "next_token": page.next_token,
            "missed": page.missed,
        }

    def ip_summary(self, requester: Requester, ip: str) -> JsonDict:
        """What the buffer holds about one client IP (admins only)."""
        require_admin(requester)
        address = normal_ip(ip)
        if address is None:
            raise MatrixError(M_INVALID_PARAM, "Not an IP address")
        key = str(address)
        summary = summarise(
            (r for _, r in self.telemetry.newest()), lambda r: r.ip == key, lambda r: r.user_id
        )
        block = self.ip_blocks.blocking(key)
        body = {"ip": key, **summary.to_json("users")}
        body["blocked"] = block.to_json() if block is not None else None
        return body

    def user_summary(self, requester: Requester, user_id: UserId) -> JsonDict:
        """What the buffer holds about one user (admins only)."""
        require_admin(requester)
        summary = summarise(
            (r for _, r in self.telemetry.newest()), lambda r: r.user_id == user_id, lambda r: r.ip
        )
        return {"user_id": user_id, **summary.to_json("ips")}

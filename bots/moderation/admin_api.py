"""The homeserver's moderation admin API, called through the SDK (requests built from
`core.endpoints`, sent with the bot's admin access token)."""

from __future__ import annotations

from typing import Any

from core.errors import JsonDict
from sdk import AsyncClient
from sdk.requests import build

__all__ = ["ModerationApi"]


class ModerationApi:
    """The telemetry stream, summaries and IP blocks of one homeserver."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def events(self, since: int, timeout_ms: int, limit: int = 1000) -> JsonDict:
        """A long-polled page of telemetry records after `since`."""
        query = {"since": str(since), "timeout": str(timeout_ms), "limit": str(limit)}
        request = build("admin_moderation_events", query=query, timeout_s=timeout_ms / 1000 + 30)
        return await self._client.request_json(request)

    async def ip_summary(self, ip: str) -> JsonDict:
        """What the server's buffer holds about `ip`."""
        return await self._client.request_json(build("admin_moderation_ip", params={"ip": ip}))

    async def blocks(self) -> list[JsonDict]:
        """The blocks in force."""
        body = await self._client.request_json(build("admin_ip_blocks"))
        return [b for b in body.get("ip_blocks", []) if isinstance(b, dict)]

    async def block(self, ip: str, reason: str, source: str, duration_ms: int | None) -> JsonDict:
        """Block `ip` (an address or CIDR network)."""
        body: dict[str, Any] = {"ip": ip, "reason": reason[:1000], "source": source}
        if duration_ms is not None:
            body["duration_ms"] = duration_ms
        return await self._client.request_json(build("admin_add_ip_block", body=body))

    async def unblock(self, ip: str) -> None:
        """Lift the stored block of `ip`."""
        await self._client.request_json(build("admin_remove_ip_block", query={"ip": ip}))

"""Shared pieces of the typing, receipt and presence tests."""

from __future__ import annotations

from collections.abc import Iterable

from homeserver.services.common.notifier import Notifier


class RecordingNotifier(Notifier):
    """A real notifier that also remembers every key it was asked to notify."""

    def __init__(self) -> None:
        super().__init__()
        self.notified: list[str] = []

    def notify(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self.notified.extend(keys)
        super().notify(keys)

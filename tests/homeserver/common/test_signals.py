"""`Signal`: handlers run in order, each isolated from the others' failures."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from homeserver.services.common.signals import Signal


@dataclass(frozen=True, slots=True)
class Ping:
    value: int


async def test_emit_calls_every_handler_in_connection_order() -> None:
    signal: Signal[Ping] = Signal("test.ping")
    seen: list[tuple[str, int]] = []

    async def first(ping: Ping) -> None:
        seen.append(("first", ping.value))

    async def second(ping: Ping) -> None:
        seen.append(("second", ping.value))

    signal.connect(first)
    signal.connect(second)
    await signal.emit(Ping(1))
    await signal.emit(Ping(2))
    assert seen == [("first", 1), ("second", 1), ("first", 2), ("second", 2)]
    assert signal.handler_count == 2


async def test_emit_without_handlers_does_nothing() -> None:
    await Signal[Ping]("test.empty").emit(Ping(0))


async def test_failing_handler_breaks_neither_emit_nor_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal: Signal[Ping] = Signal("test.ping")
    seen: list[str] = []

    async def before(ping: Ping) -> None:
        seen.append("before")

    async def broken(ping: Ping) -> None:
        seen.append("broken")
        raise RuntimeError("subscriber bug")

    async def after(ping: Ping) -> None:
        seen.append("after")

    for handler in (before, broken, after):
        signal.connect(handler)
    with caplog.at_level(logging.ERROR, logger="homeserver.services.common.signals"):
        await signal.emit(Ping(1))
    assert seen == ["before", "broken", "after"]
    failures = [r for r in caplog.records if "signal handler failed" in r.getMessage()]
    assert len(failures) == 1
    assert "signal=test.ping" in failures[0].getMessage()
    assert "broken" in failures[0].getMessage()
    assert failures[0].exc_info is not None


async def test_cancellation_is_not_swallowed() -> None:
    signal: Signal[Ping] = Signal("test.ping")

    async def cancelled(ping: Ping) -> None:
        raise asyncio.CancelledError

    signal.connect(cancelled)
    with pytest.raises(asyncio.CancelledError):
        await signal.emit(Ping(1))

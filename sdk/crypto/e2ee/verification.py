"""Interactive verification as the application sees it: `Verification` handles over SAS flows.

The machine runs the protocol (`sdk.crypto.protocol.sas`, `sdk.crypto.machine.trust`); this module sends
what it produces and lets the application wait for the flow to move. Messages arrive through
sync, so a sync loop (`AsyncClient.sync_forever`, or repeated `sync` calls) must be running while
an application awaits a `Verification`.

Typical use on each side::

    v = await e2ee.request_verification("@bob:example.org", "BOBDEVICE")   # Alice
    v = await e2ee.wait_for_verification_request()                          # Bob
    await v.accept()                                                        # Bob
    await v.wait_for(SasState.KEYS_EXCHANGED)                               # both
    print(v.emojis())  # users compare, then each side:
    await v.confirm()
    await v.wait_for(SasState.DONE)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sdk.crypto.e2ee.driver import DriverBase
from sdk.crypto.errors import VerificationError
from sdk.crypto.protocol.sas import SasState, SasVerification

__all__ = ["Verification", "VerificationMixin"]

_DEFAULT_TIMEOUT_S = 60.0


class Verification:
    """One SAS verification flow of this device, driven from the application."""

    def __init__(self, driver: VerificationMixin, transaction_id: str) -> None:
        self._driver = driver
        self.transaction_id = transaction_id

    def __repr__(self) -> str:
        return f"Verification({self.transaction_id!r}, state={self.state.value!r})"

    @property
    def sas(self) -> SasVerification:
        """The underlying state machine."""
        return self._driver.machine.verifications[self.transaction_id]

    @property
    def state(self) -> SasState:
        return self.sas.state

    @property
    def other_user(self) -> str:
        return self.sas.their_user

    @property
    def other_device(self) -> str | None:
        return self.sas.their_device

    def emojis(self) -> list[tuple[str, str]]:
        """The seven (emoji, description) pairs to compare with the other user."""
        return self.sas.emojis()

    def decimals(self) -> tuple[int, int, int]:
        """The three numbers to compare, for clients without emoji."""
        return self.sas.decimals()

    async def accept(self) -> None:
        """Accept an incoming request (fetching the requester's keys first)."""
        await self._driver.query_keys([self.other_user])
        await self._driver.send_to_device(
            self._driver.machine.accept_verification(self.transaction_id)
        )
        await self._driver.save()

    async def confirm(self) -> None:
        """The emoji match: send our MACs (the flow completes once both sides confirmed)."""
        await self._driver.send_to_device(
            self._driver.machine.confirm_verification(self.transaction_id)
        )
        await self._driver.flush()

    async def mismatch(self) -> None:
        """The emoji differ: cancel with `m.mismatched_sas`."""
        requests = self._driver.machine.cancel_verification(self.transaction_id, mismatch=True)
        await self._driver.send_to_device(requests)

    async def cancel(self) -> None:
        """Cancel the flow."""
        await self._driver.send_to_device(
            self._driver.machine.cancel_verification(self.transaction_id)
        )

    async def wait_for(self, *states: SasState, timeout_s: float = _DEFAULT_TIMEOUT_S) -> SasState:
        """Wait until the flow reaches one of `states` (or DONE after it).

        Raises:
            VerificationError: The flow was cancelled (by either side) or timed out.
        """
        order = list(SasState)
        wanted = set(states)

        def reached() -> bool:
            state = self.state
            if state is SasState.CANCELLED:
                return True
            return state in wanted or any(order.index(state) > order.index(s) for s in wanted)

        await self._driver.wait_until(reached, timeout_s)
        if self.state is SasState.CANCELLED and SasState.CANCELLED not in wanted:
            raise VerificationError(
                f"verification cancelled: {self.sas.cancel_code} {self.sas.cancel_reason}"
            )
        return self.state


class VerificationMixin(DriverBase):
    """Starting, finding and awaiting verification flows."""

    _changed: asyncio.Condition

    async def notify_changed(self) -> None:
        """Wake everything waiting in `wait_until` (called after each sync)."""
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Wait until `predicate()` holds, re-checking after each sync.

        Raises:
            VerificationError: It did not hold within `timeout_s` seconds.
        """
        try:
            async with asyncio.timeout(timeout_s), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError as exc:
            raise VerificationError("timed out waiting for the verification") from exc

    async def request_verification(
        self, user_id: str, device_id: str | None = None
    ) -> Verification:
        """Ask a device of `user_id` (every device if None) to verify with emoji."""
        await self.query_keys([user_id])
        sas, request = self.machine.start_verification(user_id, device_id)
        await self.send_to_device([request])
        return Verification(self, sas.transaction_id)

    def verification(self, transaction_id: str) -> Verification:
        """The handle of a known flow."""
        if transaction_id not in self.machine.verifications:
            raise VerificationError(f"no verification {transaction_id}")
        return Verification(self, transaction_id)

    def incoming_verifications(self) -> list[Verification]:
        """Requests from other devices not yet accepted."""
        return [
            Verification(self, txn)
            for txn, sas in self.machine.verifications.items()
            if not sas.we_requested and sas.state is SasState.REQUESTED
        ]

    async def wait_for_verification_request(
        self, timeout_s: float = _DEFAULT_TIMEOUT_S
    ) -> Verification:
        """Wait for an incoming request and return its handle."""
        await self.wait_until(lambda: bool(self.incoming_verifications()), timeout_s)
        return self.incoming_verifications()[0]

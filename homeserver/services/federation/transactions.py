"""Inbound transactions (Server-Server API `PUT /_matrix/federation/v1/send/{txnId}`).

Invariants:
- The envelope is checked before anything is applied: `origin` equals the authenticated
  origin, at most `MAX_PDUS` PDUs and `MAX_EDUS` EDUs, `pdus` and `edus` lists; a transaction
  that breaks these is refused whole (400) and changes nothing.
- A PDU that is not an object or is larger than `MAX_PDU_BYTES` (canonical JSON) is answered
  with an error of its own; the others go to the `InboundPdus` pipeline, whose answer is the
  transaction's `pdus` result. Its failure never fails the transaction.
- A transaction is applied once per (origin, txnId): the answer is stored and a repeat gets
  it again without applying anything.
- EDUs are applied one by one after the PDUs; a bad one is dropped (see `edus`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from core.canonical_json import encode_canonical
from core.errors import M_BAD_JSON, M_FORBIDDEN, JsonDict, MatrixError
from core.identifiers import ServerName
from homeserver.clock import Clock
from homeserver.services.federation.edus import EduHandler
from homeserver.services.federation.inbound_pdus import InboundPdus, UnsupportedPdus
from homeserver.storage.federation.inbound import InboundStore

__all__ = ["MAX_EDUS", "MAX_PDUS", "MAX_PDU_BYTES", "TransactionService"]

logger = logging.getLogger(__name__)

MAX_PDUS: Final = 50
MAX_EDUS: Final = 100
MAX_PDU_BYTES: Final = 65_536
TOO_LARGE: Final = "PDU is larger than 65536 bytes"


class TransactionService:
    """Applies inbound transactions once each."""

    def __init__(
        self,
        *,
        store: InboundStore,
        edus: EduHandler,
        clock: Clock,
        pdus: InboundPdus | None = None,
    ) -> None:
        """Build the service.

        Args:
            store: Answers of transactions already applied.
            edus: Applies EDUs.
            clock: Timestamps of stored answers.
            pdus: The inbound PDU pipeline (`UnsupportedPdus` when None).
        """
        self._store = store
        self._edus = edus
        self._clock = clock
        self.pdus: InboundPdus = pdus or UnsupportedPdus()
        self._locks: dict[ServerName, asyncio.Lock] = {}

    async def receive(self, origin: ServerName, txn_id: str, body: JsonDict | None) -> JsonDict:
        """Apply the transaction `txn_id` of `origin` (once) and return its answer.

        Raises:
            MatrixError: 400 `M_BAD_JSON` for a malformed envelope, 403 `M_FORBIDDEN` when
                its `origin` is not the server that signed the request.
        """
        pdus, edus = _check_envelope(origin, body)
        # One transaction of an origin at a time (senders send one at a time anyway), so a
        # repeat that arrives while the first is being applied waits for its answer.
        async with self._locks.setdefault(origin, asyncio.Lock()):
            done = await self._store.transaction_response(origin, txn_id)
            if done is not None:
                return done
            response: JsonDict = {"pdus": await self._apply_pdus(origin, pdus)}
            for edu in edus:
                await self._edus.handle(origin, edu)
            await self._store.put_transaction_response(
                origin, txn_id, response, self._clock.time_ms()
            )
            return response

    async def _apply_pdus(self, origin: ServerName, pdus: list[object]) -> dict[str, JsonDict]:
        results: dict[str, JsonDict] = {}
        accepted: list[JsonDict] = []
        for pdu in pdus:
            if not isinstance(pdu, dict):
                continue
            if len(encode_canonical(pdu)) > MAX_PDU_BYTES:
                event_id = await self._event_id(pdu)
                if event_id is not None:
                    results[event_id] = {"error": TOO_LARGE}
                continue
            accepted.append(pdu)
        if not accepted:
            return results
        try:
            answers = await self.pdus.handle_transaction_pdus(origin, accepted)
        except Exception:
            logger.exception("inbound pdu pipeline failed origin=%s", origin)
            answers = dict.fromkeys(await _event_ids(accepted), "internal error")
        for event_id, error in answers.items():
            results[event_id] = {} if error is None else {"error": error}
        return results

    async def _event_id(self, pdu: JsonDict) -> str | None:
        found = await _event_ids([pdu])
        return next(iter(found), None)


async def _event_ids(pdus: list[JsonDict]) -> list[str]:
    """Event IDs of `pdus` as the room versions we serve compute them (best effort)."""
    answers = await UnsupportedPdus().handle_transaction_pdus(ServerName(""), pdus)
    return list(answers)


def _check_envelope(origin: ServerName, body: JsonDict | None) -> tuple[list[object], list[object]]:
    if body is None:
        raise MatrixError(M_BAD_JSON, "A transaction body is required")
    if body.get("origin") != origin:
        raise MatrixError(M_FORBIDDEN, "The transaction origin is not the requesting server")
    pdus, edus = body.get("pdus", []), body.get("edus", [])
    if not isinstance(pdus, list) or not isinstance(edus, list):
        raise MatrixError(M_BAD_JSON, "pdus and edus must be lists")
    if len(pdus) > MAX_PDUS or len(edus) > MAX_EDUS:
        raise MatrixError(
            M_BAD_JSON, f"At most {MAX_PDUS} PDUs and {MAX_EDUS} EDUs per transaction"
        )
    if not isinstance(body.get("origin_server_ts", 0), int):
        raise MatrixError(M_BAD_JSON, "origin_server_ts must be an integer")
    return pdus, edus

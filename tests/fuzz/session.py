"""One backend's fuzz session: the server, its prepared world, the client and the verdicts.

`Fuzz.send` turns an endpoint name plus mutated parts into a raw request with everything else
valid (the world's parameters, the right caller); `Fuzz.verify` ends a test: it reads every user's
`/sync` and the owner's data back, and fails with the distinct bad answers the test produced.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings

from core.endpoints import ENDPOINTS, Endpoint
from tests.fuzz.harness import Answer, Client, Finding, Tally
from tests.fuzz.mutations import encode_path_value
from tests.fuzz.world import BODIES, LAST, World, health

LONG = os.environ.get("FUZZ_PROFILE", "bounded") == "long"
"""`make fuzz`: every catalogue entry on every endpoint. Otherwise (`make test`) a rotating share."""
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50" if LONG else "3"))
"""Hypothesis examples per endpoint and family."""
SHARE: int | None = None if LONG else 1
"""Catalogue entries per family and endpoint in the bounded run (None: all)."""

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples every run: CI failures reproduce
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # bad answers are collected, not raised: no shrinking
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)

_PARAM = re.compile(r"\{([A-Za-z]+)\}")


def _order(endpoint: Endpoint) -> tuple[bool, str]:
    return any(word in endpoint.name for word in LAST), endpoint.name


ORDERED = [e.name for e in sorted(ENDPOINTS.values(), key=_order)]
"""Every endpoint, the ones that delete or leave last."""
WITH_BODY = [name for name in ORDERED if ENDPOINTS[name].method != "GET"]
WITH_PARAMS = [name for name in ORDERED if ENDPOINTS[name].params]


@dataclass
class Fuzz:
    """The fuzzed server of one backend, with its world and tally."""

    client: Client
    world: World
    tally: Tally

    def valid_body(self, name: str) -> object:
        """The valid example body of endpoint `name`, placeholders filled."""
        return self.world.fill(BODIES.get(name, {}))

    def valid_body_bytes(self, name: str) -> bytes:
        """The valid example body of endpoint `name` as JSON bytes."""
        return json.dumps(self.valid_body(name)).encode()

    def send(
        self,
        name: str,
        mutation: str,
        *,
        body: bytes | None = None,
        path: Mapping[str, tuple[str, bool]] | None = None,
        query: str = "",
    ) -> Answer:
        """Call endpoint `name` with the mutated parts given and valid everything else.

        Args:
            name: The endpoint.
            mutation: What was mutated, for the report.
            body: Raw body bytes (None: no body).
            path: Parameter name -> (value, raw?); a raw value is inserted unencoded.
            query: A raw query string without `?`.
        """
        item = ENDPOINTS[name]
        values = self.world.params(name, item.params)
        chosen = {k: (encode_path_value(v), True) for k, v in values.items()} | dict(path or {})
        target = _PARAM.sub(
            lambda m: chosen[m[1]][0] if chosen[m[1]][1] else encode_path_value(chosen[m[1]][0]),
            item.template,
        )
        if query:
            target += "?" + query
        elif "room_keys/keys" in item.template:
            target += "?version=" + encode_path_value(self.world.values["BACKUP"])
        token = self.world.token_for(name, self.client) if item.requires_auth else None
        headers = {"Content-Type": "image/png" if "upload" in name else "application/json"}
        return self.client.judged(
            name, mutation, item.method, target, body=body, token=token, headers=headers
        )

    def verify(self, case: str, start: int, *, full: bool = True, initial: bool = False) -> None:
        """Fail if reads broke, or if any answer since finding number `start` was bad.

        Args:
            case: The endpoint (or framing case) the test fuzzed.
            start: `len(tally.findings)` when the test began.
            full: Read back all the owner's data, not only every user's `/sync`.
            initial: Initial syncs rather than syncs on from the last check.
        """
        for problem in health(self.client, self.world, full=full, initial=initial):
            self.tally.findings.append(Finding(case, "health afterwards", None, problem, ""))
        bad = _distinct(self.tally.findings[start:])
        assert not bad, f"{len(bad)} distinct bad answers:\n" + "\n".join(bad)


def _distinct(findings: list[Finding]) -> list[str]:
    seen: dict[tuple[str, str, int | None, str], str] = {}
    for item in findings:
        line = f"{item.case} [{item.mutation}] -> {item.problem} | {item.server_log[:300]}"
        seen.setdefault(item.key(), line)
    return list(seen.values())

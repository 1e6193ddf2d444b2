"""The SDK's front door: the public API is importable from `sdk`, without a cycle, and
`import sdk` does not load the crypto layer until `E2EE` is asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sdk
from tests.e2e.process import REPO_ROOT


def test_every_public_name_resolves() -> None:
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None, name
    assert sorted(sdk.__all__) == sorted(set(sdk.__all__))
    assert set(sdk.__all__) <= set(dir(sdk))


def test_front_door_names_are_the_modules_own() -> None:
    from sdk.bot import Bot
    from sdk.client import AsyncClient
    from sdk.crypto import E2EE
    from sdk.errors import MatrixRequestError, UserInUseError
    from sdk.events import RoomEvent

    assert (sdk.Bot, sdk.AsyncClient, sdk.RoomEvent) == (Bot, AsyncClient, RoomEvent)
    assert (sdk.MatrixRequestError, sdk.UserInUseError) == (MatrixRequestError, UserInUseError)
    assert sdk.E2EE is E2EE


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        sdk.__getattr__("NoSuchThing")


def _fresh(code: str) -> str:
    """Run `code` in a new interpreter (nothing imported yet) and return its output."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_import_sdk_defers_the_crypto_layer() -> None:
    code = (
        "import sys, sdk; print('vodozemac' in sys.modules, 'sdk.crypto' in sys.modules);"
        "from sdk import E2EE; print('vodozemac' in sys.modules, E2EE.__module__)"
    )
    assert _fresh(code).splitlines() == ["False False", "True sdk.crypto.e2ee.client"]


def test_each_entry_point_imports_first_without_a_cycle() -> None:
    for first in ("sdk.crypto.e2ee.client", "sdk.errors", "bots.echo"):
        assert _fresh(f"import {first}; from sdk import *; print(E2EE.__name__)") == "E2EE"

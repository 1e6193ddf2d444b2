"""The import-linter contracts bite: each forbidden import, planted in a copy of the tree, fails.

The tree (packages and `pyproject.toml`) is copied to a temporary directory, one module with a
forbidden import is added per contract, and `lint-imports` runs there with the copy first on
`PYTHONPATH`. Every contract must be reported broken; the untouched tree is checked by `make lint`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "homeserver", "federation", "sdk", "bots")

# (module to add, the import it makes, the contract name it must break)
PLANTS = (
    ("bots/_planted.py", "import homeserver.storage.database", "bots use only sdk and core"),
    (
        "homeserver/services/_planted.py",
        "import sdk.client",
        "homeserver never imports sdk or bots",
    ),
    (
        "homeserver/storage/_planted.py",
        "import homeserver.config",
        "configuration is read only by the composition root and the CLI",
    ),
    ("core/_planted_yaml.py", "import yaml", "core is pure"),
    ("core/_planted_jwt.py", "import jwt", "core is pure"),
    (
        "homeserver/services/accounts/_planted.py",
        "import homeserver.services.rooms.events",
        "service domains",
    ),
    (
        "homeserver/services/common/_planted.py",
        "import homeserver.services.accounts.tokens",
        "service domains",
    ),
    ("federation/_planted.py", "import homeserver.app", "federation never imports"),
    ("sdk/_planted.py", "import homeserver.api.http", "sdk never imports"),
    (
        "homeserver/api/_planted.py",
        "import homeserver.storage.database",
        "api never imports storage",
    ),
    (
        "homeserver/storage/_planted_up.py",
        "import homeserver.services.container",
        "homeserver layers",
    ),
)


def _lint_imports() -> Path:
    return Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for module, statement, _ in PLANTS:
        (copy / module).write_text(f'"""A forbidden import."""\n\n{statement}\n')
    env = {**os.environ, "PYTHONPATH": str(copy), "COLUMNS": "500"}
    result = subprocess.run(  # noqa: S603 - our own lint-imports on our own copy
        [str(_lint_imports()), "--no-cache"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode != 0, result.stdout
    return result.stdout


@pytest.mark.parametrize(("module", "statement", "contract"), PLANTS)
def test_planted_import_breaks_its_contract(
    planted_report: str, module: str, statement: str, contract: str
) -> None:
    broken = [
        line
        for line in planted_report.splitlines()
        if contract in line and line.rstrip().endswith("BROKEN")
    ]
    assert broken, f"{statement} in {module} did not break {contract!r}:\n{planted_report}"
    module_name = module.removesuffix(".py").replace("/", ".")
    assert module_name in planted_report

"""What the README and the example config promise exists: links resolve, no features to come."""

from __future__ import annotations

import re
from pathlib import Path

from homeserver.__main__ import example_config

REPO_ROOT = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_readme_links_resolve_inside_the_repository() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    local = [t for t in _LINK.findall(readme) if not re.match(r"[a-z]+:", t)]
    assert "docs/architecture.md" in local
    missing = [t for t in local if not (REPO_ROOT / t).exists()]
    assert missing == []
    # Docs outside the repository are no help to someone who cloned it.
    assert "ARCHITECTURE.md" not in readme


def test_example_config_promises_nothing_that_does_not_exist() -> None:
    text = example_config()
    assert "several homeserver processes" not in text
    assert "per-IP statistics" not in text
    assert "registration-token create" in text

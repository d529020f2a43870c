"""constraints.txt pins every package the test environment holds, at the version it holds."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What `python -m venv` brings, and the project itself.
NOT_PINNED = {"pip", "setuptools", "weaver-facade"}


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def test_every_installed_package_is_pinned_at_its_version() -> None:
    # markdown2 (pdoc's) and tomlkit (hatchling's) were installed without a pin.
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version.strip()
    installed = {_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    unpinned = sorted(set(installed) - set(pins) - NOT_PINNED)
    assert unpinned == [], "add to constraints.txt (scripts/freeze)"
    assert {n: v for n, v in installed.items() if n in pins and pins[n] != v} == {}

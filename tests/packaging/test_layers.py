"""The import-layer contracts of pyproject.toml name every core module."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = {
    c["name"]: c
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]["contracts"]
}
CORE = "the core imports none of the CLI, the pytest plugin, the contract kit, the emulator"
PUBLIC = "the CLI, the pytest plugin and the contract kit use only public facade names"
EMULATOR = "the emulator imports nothing from the facade"
LEAVES = "the shared leaves import nothing of the facade"


def test_the_contracts_name_every_core_module() -> None:
    core = {
        f"weaver_facade.{p.stem}"
        for p in (ROOT / "weaver_facade").glob("_*.py")
        if not p.stem.startswith("__")  # the package and its command's entry
    }
    leaves = set(CONTRACTS[LEAVES]["source_modules"])
    assert len(core) > 10
    assert leaves < core
    assert set(CONTRACTS[CORE]["source_modules"]) == core
    assert set(CONTRACTS[PUBLIC]["forbidden_modules"]) == core - leaves
    assert core - leaves <= set(CONTRACTS[EMULATOR]["forbidden_modules"])
    assert core - leaves <= set(CONTRACTS[LEAVES]["forbidden_modules"])

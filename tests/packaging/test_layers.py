"""The import-layer contracts of pyproject.toml name every core module."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_list_names_every_core_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    core = {f"weaver_facade.{p.stem}" for p in (ROOT / "weaver_facade").glob("_*.py")}
    core.discard("weaver_facade.__init__")
    assert len(core) > 10
    by_name = {c["name"]: c for c in contracts}
    assert (
        set(
            by_name[
                "the core imports none of the CLI, the pytest plugin, the contract kit, "
                "the emulator"
            ]["source_modules"]
        )
        == core
    )
    assert (
        set(
            by_name["the CLI, the pytest plugin and the contract kit use only public facade names"][
                "forbidden_modules"
            ]
        )
        == core
    )
    assert core <= set(by_name["the emulator imports nothing from the facade"]["forbidden_modules"])

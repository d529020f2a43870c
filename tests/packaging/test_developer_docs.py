"""DEVELOPERS.md and the README name what is there: modules, names, extensions.

DEVELOPERS.md promises a reader finds each concern in the module its table names;
a module renamed, a name moved or an extension added must show up here, not in a
newcomer's afternoon.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from tests.support.openapi import openapi
from weaver_facade._extensions import extension_names

ROOT = Path(__file__).resolve().parents[2]
DEVELOPERS = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def core_table() -> dict[tuple[str, ...], str]:
    """The modules of each row of the core table, with the row's concern."""
    table = DEVELOPERS.split("### The core, one concern per module", 1)[1].split("\n## ", 1)[0]
    rows: dict[tuple[str, ...], str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`_"):
            rows[tuple(re.findall(r"`(_\w+)\.py`", cells[0]))] = cells[1]
    return rows


def test_the_core_table_names_every_core_module_once() -> None:
    core = {p.stem for p in (ROOT / "weaver_facade").glob("_*.py") if not p.stem.startswith("__")}
    named = [module for modules in core_table() for module in modules]
    assert sorted(named) == sorted(core)


def test_each_name_in_a_row_is_in_its_modules() -> None:
    # A name of the wire (a field, a header) may stand in a row too.
    wire = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    misplaced = []
    for modules, concern in core_table().items():
        source = wire + "".join(
            (ROOT / "weaver_facade" / f"{m}.py").read_text(encoding="utf-8") for m in modules
        )
        for name in re.findall(r"`([^`]+)`", concern):
            if IDENTIFIER.fullmatch(name) and not re.search(rf"\b{name}\b", source):
                misplaced.append(f"{', '.join(modules)}: `{name}`")
    assert misplaced == []


def test_each_dotted_name_resolves() -> None:
    # `_io.run` named a function that is a method of the shells.
    unresolved = []
    for name in sorted(
        set(
            re.findall(
                r"`((?:weaver_facade\.)?(?:emulator\.)?_[a-z_]+(?:\.\w+)+)(?:\(\))?`", DEVELOPERS
            )
        )
    ):
        parts = name.removeprefix("weaver_facade.").split(".")
        depth = 2 if parts[0] == "emulator" else 1  # the emulator's modules are a level down
        module, attributes = ".".join(parts[:depth]), parts[depth:]
        if attributes == ["py"]:
            continue  # a file name
        found: object = importlib.import_module(f"weaver_facade.{module}")
        for attribute in attributes:
            if not hasattr(found, attribute):
                unresolved.append(name)
                break
            found = getattr(found, attribute)
    assert unresolved == []


def test_the_readme_says_what_each_extension_changes() -> None:
    # Three extensions had no line, although DEVELOPERS.md asks one of each.
    section = README.split("## Against a server without the extensions", 1)[1].split("\n## ", 1)[0]
    spec = openapi()
    assert set(extension_names(spec)) <= set(re.findall(r"\*\*`([a-z-]+)`\*\*", section))

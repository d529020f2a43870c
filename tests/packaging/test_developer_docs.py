"""DEVELOPERS.md and the README name what is there: modules, names, extensions.

DEVELOPERS.md promises a reader finds each concern in the module its table names;
a module renamed, a name moved or an extension added must show up here, not in a
newcomer's afternoon.
"""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

from tests.support.openapi import openapi
from weaver_facade._extensions import extension_names

ROOT = Path(__file__).resolve().parents[2]
DEVELOPERS = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LEAVES = next(
    contract["source_modules"]
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]["contracts"]
    if contract["name"] == "the shared leaves import nothing of the facade"
)
NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
NUMBERS += " fifteen sixteen seventeen eighteen nineteen twenty"


def core_table() -> dict[tuple[str, ...], str]:
    """The modules of each row of the core table, with the row's concern."""
    table = DEVELOPERS.split("### The core, one concern per module", 1)[1].split("\n#", 1)[0]
    rows: dict[tuple[str, ...], str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`_"):
            rows[tuple(re.findall(r"`(_\w+)\.py`", cells[0]))] = cells[1]
    return rows


def test_the_core_table_names_every_core_module_once() -> None:
    # `__init__.py` is core too (`__main__.py` is the command line's).
    core = {p.stem for p in (ROOT / "weaver_facade").glob("_*.py") if p.stem != "__main__"}
    named = [module for modules in core_table() for module in modules]
    assert sorted(named) == sorted(core)


def test_the_shared_leaves_are_those_of_the_import_contract() -> None:
    # The leaves' contract gained `_help` while the Conventions still said "fifteen" and
    # left it out of their list.
    leaves = sorted(m.removeprefix("weaver_facade.") for m in LEAVES)
    tabled = sorted(
        module
        for modules, concern in core_table().items()
        if concern.lower().startswith(("shared leaf", "shared leaves"))
        for module in modules
    )
    assert tabled == leaves
    said = re.search(r"The (\w+) shared leaves of the table above \(([^)]*)\)", DEVELOPERS)
    assert said is not None
    assert sorted(re.findall(r"`(_\w+)`", said.group(2))) == leaves
    assert NUMBERS.split().index(said.group(1).lower()) == len(leaves)


def package_table(package: str) -> dict[tuple[str, ...], str]:
    """The modules of each row of the table of ``weaver_facade/PACKAGE/``, with its concern."""
    table = DEVELOPERS.split(f"(`weaver_facade/{package}/`)", 1)[1].split("\n#", 1)[0]
    rows: dict[tuple[str, ...], str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            rows[tuple(re.findall(r"`(\w+)\.py`", cells[0]))] = cells[1]
    return rows


def test_the_emulator_and_kit_tables_name_each_of_their_modules_once() -> None:
    # Their modules were named nowhere, but for those a convention happened to need.
    for package in ("emulator", "contract"):
        modules = {p.stem for p in (ROOT / "weaver_facade" / package).glob("*.py")}
        named = [module for modules in package_table(package) for module in modules]
        assert sorted(named) == sorted(modules), package


def test_the_command_lines_row_names_each_of_its_modules() -> None:
    row = next(
        line for line in DEVELOPERS.splitlines() if line.startswith("| `weaver_facade/cli.py`")
    )
    concern = row.split("|")[2]
    modules = {p.stem for p in (ROOT / "weaver_facade" / "_cli").glob("*.py")} - {"__init__"}
    assert modules - set(re.findall(r"`(\w+)`", concern)) == set()


def test_each_name_in_a_row_is_in_its_modules() -> None:
    # A name of the wire (a field, a header) may stand in a row too.
    wire = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    tables = [("", core_table())]
    tables += [(package, package_table(package)) for package in ("emulator", "contract")]
    misplaced = []
    for package, table in tables:
        for modules, concern in table.items():
            source = wire + "".join(
                (ROOT / "weaver_facade" / package / f"{m}.py").read_text(encoding="utf-8")
                for m in modules
            )
            for name in re.findall(r"`([^`]+)`", concern):
                if IDENTIFIER.fullmatch(name) and not re.search(rf"\b{name}\b", source):
                    misplaced.append(f"{package}: {', '.join(modules)}: `{name}`")
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
        if attributes in (["py"], ["sh"]):
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


# Who a row's "Shared leaf of ..." names, in the layers an import is counted in.
LAYER_WORDS = {
    "the facade": "facade",
    "the downloads": "facade",
    "the cli": "CLI",
    "the emulator": "emulator",
    "the contract kit": "kit",
    "the kit": "kit",
    "the pytest plugin": "plugin",
}
# Those of "every layer", and of "every entry point": the programs (the plugin has none).
EVERY = {
    "every layer": set(LAYER_WORDS.values()),
    "every entry point": {"CLI", "emulator", "kit"},
}


def _layer(path: Path) -> str:
    top = path.relative_to(ROOT / "weaver_facade").parts[0]
    if top in ("_cli", "cli.py", "__main__.py"):
        return "CLI"
    return {"emulator": "emulator", "contract": "kit", "pytest_plugin.py": "plugin"}.get(
        top, "facade"
    )


def _importers() -> dict[str, set[str]]:
    """Each core module, with the layers (and the shared leaves) of the modules that import it."""
    leaves = {m.removeprefix("weaver_facade.") for m in LEAVES}
    found: dict[str, set[str]] = {}
    for path in (ROOT / "weaver_facade").rglob("*.py"):
        package = list(path.relative_to(ROOT).parent.parts)
        core = path.parent == ROOT / "weaver_facade"
        who = path.stem if core and path.stem in leaves else _layer(path)  # a leaf counts as itself
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            for name in names:
                parts = name.split(".")
                if parts[0] == "weaver_facade" and len(parts) > 1:
                    found.setdefault(parts[1], set()).add(who)
    return found


def test_each_shared_leafs_row_names_the_layers_that_import_it() -> None:
    # `_watched` and `_help` said nothing of the contract kit, `_dest` nothing of it
    # either, `_causes` nothing of the emulator and `_redact` nothing of the CLI: a reader
    # changing one for its named users would miss a caller. `_extensions`, `_lazy` and
    # `_version` said "every layer", which no CLI module and no plugin imports.
    importers = _importers()
    wrong = []
    for modules, concern in core_table().items():
        said = re.match(r"Shared leaf of ([^:(]*)", concern)
        if said is None:
            continue
        words = re.split(r",\s*|\s+and\s+", said.group(1).strip())
        named = EVERY.get(said.group(1).strip()) or {
            LAYER_WORDS.get(w.lower(), w.strip("`")) for w in words
        }
        for module in modules:
            layers = {who for who in importers.get(module, set()) if who in LAYER_WORDS.values()}
            leaves = named - set(LAYER_WORDS.values())
            if layers != named - leaves or not leaves <= importers.get(module, set()):
                wrong.append(f"{module}: says {sorted(named)}, imported by {sorted(layers)}")
    assert wrong == []


def _bullet(section: str, start: str) -> str:
    text = DEVELOPERS.split(section, 1)[1]
    return next(line for line in text.splitlines() if line.startswith(start))


def test_the_layout_names_every_script_test_folder_and_shared_module() -> None:
    # tests/support's modules but two, scripts/_bootstrap.sh and the benchmarks' shared
    # modules were named nowhere.
    scripts_row = _bullet("## Layout", "| `scripts/` |")
    scripts = {p.name for p in (ROOT / "scripts").iterdir() if p.is_file() and p.suffix != ".py"}
    unnamed = [f"scripts/{s}" for s in sorted(scripts) if f"`{s}`" not in scripts_row]
    bench_row = _bullet("## Layout", "| `benchmarks/` |")
    unnamed += [
        f"benchmarks/{p.name}"
        for p in sorted((ROOT / "benchmarks").glob("*.py"))
        if not re.fullmatch(r"b\d_\w+|__init__", p.stem) and f"`{p.name}`" not in bench_row
    ]
    tests = DEVELOPERS.split("### The tests (`tests/`)", 1)[1].split("\n#", 1)[0]
    unnamed += [
        f"tests/{p.name}/"
        for p in sorted((ROOT / "tests").iterdir())
        if p.is_dir() and not p.name.startswith((".", "__")) and f"`{p.name}/`" not in tests
    ]
    support = _bullet("### The tests (`tests/`)", "- `support/`")
    unnamed += [
        f"tests/support/{p.name}"
        for p in sorted((ROOT / "tests" / "support").glob("*.py"))
        if p.stem != "__init__" and f"`{p.stem}`" not in support
    ]
    assert unnamed == []

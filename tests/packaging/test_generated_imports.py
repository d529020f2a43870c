"""Hand-written code imports each generated route module as a module.

``from weaver_client.api.models import get_model`` may name an attribute of the package as
well as its submodule, and mypy's incremental cache keeps the first answer it found: once
run while the module was missing (a route the spec dropped, or one imported before
`scripts/regenerate` wrote it), mypy went on saying `has no attribute` after the file
came (back), until its cache was deleted. ``import weaver_client.api.models.get_model as
_get_model`` is a module import, which mypy checks again once the file appears.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAND_WRITTEN = ("weaver_facade", "tests", "scripts", "benchmarks", "examples")
# The generated packages that hold one module per route.
ROUTE_PACKAGE = re.compile(r"weaver_client\.api(\.[A-Za-z0-9_]+)?")


def _sources() -> list[Path]:
    found = [ROOT / "_weaver_facade_cli.py"]
    for top in HAND_WRITTEN:
        found += sorted((ROOT / top).rglob("*.py"))
    return found


def test_route_modules_are_imported_as_modules() -> None:
    sources = _sources()
    assert any(p.name == "_calls.py" for p in sources)
    offending = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and ROUTE_PACKAGE.fullmatch(node.module or ""):
                names = ", ".join(alias.name for alias in node.names)
                where = path.relative_to(ROOT)
                offending.append(f"{where}:{node.lineno}: from {node.module} import {names}")
    assert offending == [], "import each as `import weaver_client.api.TAG.ROUTE as NAME`"


def test_the_calls_import_their_routes() -> None:
    # The rule above holds only where route modules are imported at all.
    tree = ast.parse((ROOT / "weaver_facade" / "_calls.py").read_text(encoding="utf-8"))
    routes = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("weaver_client.api.")
    ]
    assert len(routes) > 10

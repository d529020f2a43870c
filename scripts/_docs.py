"""The body of ``scripts/docs``: the API reference, generated from the docstrings by pdoc.

``scripts/docs [--output DIR]`` writes HTML (default ``build/api``);
``scripts/docs --check`` builds into a temporary directory and only checks.
Either way the build fails (exit 1, one line per problem) when:

- pdoc warns (a name in ``__all__`` that does not resolve, an annotation it cannot read, ...);
- a public name has no docstring: a module, each name of its ``__all__``, and
  the public methods and properties of each class;
- a reference is broken: a link of the generated pages whose page or anchor
  does not exist, or a ````weaver_facade.NAME```` in a docstring that does not
  resolve or names a private module, which the reference does not show.
"""

from __future__ import annotations

import argparse
import html.parser
import importlib
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pdoc.doc
import pdoc.render

from weaver_facade._plural import counted

PACKAGE = "weaver_facade"
# The public modules: the facade, and what its extras add.
MODULES = (
    "weaver_facade",
    "weaver_facade.emulator",
    "weaver_facade.contract",
    "weaver_facade.pytest_plugin",
    "weaver_facade.cli",
)
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "build" / "api"
REFERENCE = re.compile(r"`{1,2}(weaver_facade(?:\.\w+)+)(?:\(\))?`{1,2}")


def load_modules() -> dict[str, pdoc.doc.Module]:
    modules = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for exported in getattr(module, "__all__", ()):
            getattr(module, exported)  # names imported on first use land in the module
        modules[name] = pdoc.doc.Module(module)
    return modules


def _defined_docstring(name: str, value: object) -> str:
    """The docstring of a re-exported variable, from the module that assigns it."""
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith(f"{PACKAGE}.") or vars(module).get(name) is not value:
            continue
        found = pdoc.doc.Module(module).get(name)
        if found is not None and found.docstring.strip():
            return found.docstring
    return ""


def public_members(namespace: pdoc.doc.Module | pdoc.doc.Class) -> Iterator[pdoc.doc.Doc[Any]]:
    """A module's exported names, and its classes' own public methods and properties."""
    for member in namespace.members.values():
        if member.name.startswith("_"):
            continue
        if isinstance(namespace, pdoc.doc.Class) and (
            not isinstance(member, pdoc.doc.Function)  # fields: in the class's Attributes
            or _package(member) != _package(namespace)  # from another library (Starlette)
        ):
            continue
        yield member
        if isinstance(member, pdoc.doc.Class):
            yield from public_members(member)


def _package(doc: pdoc.doc.Doc[Any]) -> str:
    return doc.taken_from[0].partition(".")[0]


def check_docstrings(modules: dict[str, pdoc.doc.Module]) -> Iterator[str]:
    for module in modules.values():
        if not module.docstring.strip():
            yield f"{module.fullname}: module without a docstring"
        for member in public_members(module):
            if not member.docstring.strip() and isinstance(member, pdoc.doc.Variable):
                # A re-exported constant or type alias: its docstring is where it is assigned.
                member.docstring = _defined_docstring(member.name, member.default_value)
            if not member.docstring.strip():
                yield f"{member.fullname}: public {member.kind} without a docstring"
            for target in REFERENCE.findall(member.docstring):
                problem = _resolve(target)
                if problem:
                    yield f"{member.fullname}: reference ``{target}`` {problem}"
        for target in REFERENCE.findall(module.docstring):
            problem = _resolve(target)
            if problem:
                yield f"{module.fullname}: reference ``{target}`` {problem}"


def _resolve(target: str) -> str:
    """Why ``target`` is not a name the reference shows, or ``""``."""
    if any(part.startswith("_") for part in target.split(".")):
        return "names a private module or name, which the reference does not show"
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return "does not resolve"
            obj = getattr(obj, attr)
        return ""
    return "does not resolve"


def render(modules: dict[str, pdoc.doc.Module], output: Path) -> None:
    pdoc.render.configure(docformat="google", show_source=False)
    for module in modules.values():
        page = output / f"{module.fullname.replace('.', '/')}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(pdoc.render.html_module(module, modules))
    (output / "index.html").write_text(pdoc.render.html_index(modules))
    (output / "search.js").write_text(pdoc.render.search_index(modules))


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key == "href" and value:
                self.hrefs.append(value)
            elif key == "id" and value:
                self.ids.add(value)


def check_links(output: Path) -> Iterator[str]:
    pages: dict[Path, _Links] = {}
    for page in sorted(output.rglob("*.html")):
        parser = _Links()
        parser.feed(page.read_text())
        pages[page.resolve()] = parser
    for page, links in pages.items():
        for href in links.hrefs:
            if re.match(r"^[a-z]+:", href):
                continue  # an outside address (pdoc links python's own docs)
            path, _, anchor = href.partition("#")
            target = (page.parent / path).resolve() if path else page
            name = target.relative_to(output.resolve()) if target.is_relative_to(output) else target
            if target not in pages:
                if not target.exists():
                    yield f"{page.relative_to(output.resolve())}: broken link to {name}"
            elif anchor and anchor not in pages[target].ids:
                yield f"{page.relative_to(output.resolve())}: broken link to {name}#{anchor}"


def build(output: Path) -> list[str]:
    """Build the reference into ``output``; the problems found (empty: all is well)."""
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        modules = load_modules()
        problems += check_docstrings(modules)
        render(modules, output)
    problems += [f"pdoc: {w.message}" for w in caught]
    problems += check_links(output.resolve())
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/docs", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR")
    parser.add_argument("--check", action="store_true", help="check only; write nothing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weaver-docs-") as tmp:
        output = Path(tmp) if args.check else args.output
        output.mkdir(parents=True, exist_ok=True)
        problems = build(output)
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    if problems:
        print(f"docs: FAILED, {counted(len(problems), 'problem')}", file=sys.stderr)
        return 1
    print(f"docs: {len(MODULES)} modules documented" + ("" if args.check else f" in {output}"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

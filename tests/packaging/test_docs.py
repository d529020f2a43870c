"""``scripts/docs``: the API reference's checks catch what they promise to catch.

``scripts/test`` builds the real reference with ``scripts/docs --check``; here the
checks are run on a small module made to break each rule, and on broken pages.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pdoc.doc
import pytest

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]

docs = load_script("_docs")

PROBE = '''
"""A module made to break the rules."""

__all__ = ["Documented", "bare", "refers"]


class Documented:
    """A class with one documented and one bare method."""

    def fine(self) -> None:
        """Documented."""

    def naked(self) -> None:
        pass


def bare() -> None:
    pass


def refers() -> None:
    """See ``weaver_facade.NoSuchName``, ``weaver_facade._errors``,
    ``weaver_facade.WeaverError``."""
'''


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[pdoc.doc.Module]:
    (tmp_path / "docs_probe.py").write_text(PROBE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield pdoc.doc.Module(importlib.import_module("docs_probe"))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("docs_probe", None)


def test_undocumented_names_and_bad_references_are_problems(probe: pdoc.doc.Module) -> None:
    problems = sorted(docs.check_docstrings({"docs_probe": probe}))
    assert problems == [
        "docs_probe.Documented.naked: public function without a docstring",
        "docs_probe.bare: public function without a docstring",
        "docs_probe.refers: reference ``weaver_facade.NoSuchName`` does not resolve",
        "docs_probe.refers: reference ``weaver_facade._errors`` names a private module or "
        "name, which the reference does not show",
    ]


def test_broken_links_are_problems(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.html").write_text(
        '<h1 id="Here">x</h1><a href="#Here">ok</a><a href="#Gone">no</a>'
        '<a href="sub/b.html#There">ok</a><a href="sub/b.html#Nowhere">no</a>'
        '<a href="missing.html">no</a><a href="https://docs.python.org/3/">outside</a>'
    )
    b_page = '<div id="There"></div><a href="../a.html#Here">ok</a>'
    (tmp_path / "sub" / "b.html").write_text(b_page)
    assert sorted(docs.check_links(tmp_path.resolve())) == [
        "a.html: broken link to a.html#Gone",
        "a.html: broken link to missing.html",
        "a.html: broken link to sub/b.html#Nowhere",
    ]


@pytest.mark.parametrize(
    ("problems", "failed"), [(["one"], "FAILED, 1 problem\n"), (["a", "b"], "FAILED, 2 problems\n")]
)
def test_the_failure_counts_its_problems_in_a_noun_that_agrees(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    problems: list[str],
    failed: str,
) -> None:
    # It said "1 problem(s)".
    monkeypatch.setattr(docs, "build", lambda output: problems)
    assert docs.main(["--check"]) == 1
    assert capsys.readouterr().err.endswith(f"docs: {failed}")


def test_the_documented_modules_are_the_public_ones() -> None:
    # Every public module of the package is in the reference (a new one must be added).
    package = ROOT / "weaver_facade"
    public = {
        f"weaver_facade.{p.stem if p.is_file() else p.name}"
        for p in package.iterdir()
        if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())
    }
    assert public | {"weaver_facade"} == set(docs.MODULES)

"""The conformance part generates no constant of its caller's source.

Hypothesis draws now and then from the short constants of the source files of every local
module the process has loaded: the cases of a run then depended on what its caller had
imported (a script, its own modules), not on its seed alone, and sent the caller's literals
(a key of up to 20 characters, say) to the server under test.
"""

from __future__ import annotations

import importlib
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import storage_directory
from hypothesis.internal.conjecture import providers

from weaver_facade.contract._conformance import _hypothesis_of_its_own

# Strings of these letters alone, 8 to 12 of them: the caller's module gives the only
# constants of that shape, and a random draw all but never spells one.
LETTERS = "qxzQXZ"


@pytest.fixture
def caller_literals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The literals of a module of the caller's own, loaded from ``tmp_path``."""
    rng = random.Random(7)
    literals = {"".join(rng.choices(LETTERS, k=rng.randint(8, 12))) for _ in range(200)}
    (tmp_path / "caller_literals.py").write_text(f"LITERALS = {sorted(literals)!r}\n")
    monkeypatch.syspath_prepend(tmp_path)
    importlib.import_module("caller_literals")
    yield literals
    del sys.modules["caller_literals"]


def _drawn() -> set[str]:
    """Every string one seeded Hypothesis run draws of the literals' shape."""
    drawn: set[str] = set()

    @seed(20261129)
    @settings(max_examples=400, database=None, deadline=None)
    @given(st.text(alphabet=LETTERS, min_size=8, max_size=12))
    def draw(value: str) -> None:
        drawn.add(value)

    draw()
    return drawn


def test_a_run_draws_none_of_its_callers_literals(caller_literals: set[str]) -> None:
    # The same draws outside a run: Hypothesis takes some of the caller's literals there,
    # which the test would see in a run too.
    assert _drawn() & caller_literals
    with _hypothesis_of_its_own():
        assert not _drawn() & caller_literals
    assert _drawn() & caller_literals  # the process's Hypothesis as it was


def test_overlapping_runs_draw_none_until_the_last_ends(caller_literals: set[str]) -> None:
    first, second = _hypothesis_of_its_own(), _hypothesis_of_its_own()
    first.__enter__()
    second.__enter__()
    failed = KeyboardInterrupt()
    try:
        first.__exit__(type(failed), failed, None)  # it fails while the second goes on
        assert not _drawn() & caller_literals
    finally:
        second.__exit__(None, None, None)
    assert _drawn() & caller_literals


def test_a_hypothesis_without_the_lookup_stops_the_run_with_nothing_changed(
    caller_literals: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = storage_directory(intent_to_write=False).home_directory
    monkeypatch.delattr(providers, "_get_local_constants")
    with (
        pytest.raises(RuntimeError, match=r"cannot keep Hypothesis .* from drawing"),
        _hypothesis_of_its_own(),
    ):
        pytest.fail("the run went on")
    assert storage_directory(intent_to_write=False).home_directory == home
    monkeypatch.undo()
    with _hypothesis_of_its_own():  # a run after it is one, not one that overlaps
        assert not _drawn() & caller_literals


def test_a_hypothesis_that_draws_no_source_constants_runs_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One older than its drawing of them has no constants_ast: nothing to keep it from.
    found = providers._get_local_constants
    monkeypatch.setitem(sys.modules, "hypothesis.internal.constants_ast", None)
    with _hypothesis_of_its_own():
        assert providers._get_local_constants is found
    assert providers._get_local_constants is found


def test_a_run_that_cannot_make_its_folder_leaves_the_lookup_it_found(
    caller_literals: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lookup was replaced before the run's folder was made: a run that failed to make
    # it left the process's Hypothesis drawing none of its program's constants for good.
    found = providers._get_local_constants

    def no_folder(*_: object, **__: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", no_folder)
    with pytest.raises(OSError, match="No space left"), _hypothesis_of_its_own():
        pytest.fail("the run went on")
    monkeypatch.undo()
    assert providers._get_local_constants is found
    assert _drawn() & caller_literals

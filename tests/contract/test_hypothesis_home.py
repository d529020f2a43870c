"""The conformance part keeps Hypothesis' caches in a folder of its own and gives the
process back the Hypothesis home it had, also when two runs overlap (in threads).

The home is the process's: the first run of two that overlap restored the home it had
found while the second ran on, and the second then restored the first's folder, removed:
the process's Hypothesis (a user's tests after a kit run, their example database too)
kept its files in a folder of /tmp, made again, from then on.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis.configuration import storage_directory

from weaver_facade.contract._conformance import _hypothesis_of_its_own


def _home() -> Path:
    return storage_directory(intent_to_write=False).home_directory


def test_overlapping_runs_leave_the_home_they_found() -> None:
    found = _home()
    first, second = _hypothesis_of_its_own(), _hypothesis_of_its_own()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first run ends while the second goes on
    during = _home()
    assert during != found
    assert during.is_dir()
    second.__exit__(None, None, None)
    assert _home() == found
    assert not during.exists()


def test_a_failed_run_leaves_the_home_it_found() -> None:
    found = _home()

    @_hypothesis_of_its_own()
    def run() -> Path:
        raise KeyboardInterrupt(_home())

    try:
        run()
    except KeyboardInterrupt as stopped:
        (own,) = stopped.args
    assert own != found
    assert not own.exists()
    assert _home() == found

"""``ContractSettings`` refuses what the command line refuses, when it is made.

The command line refused `--deadline inf`, `nan`, a negative time or one over a year, and
`--max-examples 0`; ``ContractSettings(deadline=float("inf"))`` from Python was taken, and
the run then failed deep inside (a NaN: httpx's "Invalid value NaN"; an endless time: a
timer's or a socket's OverflowError, or a run that never ends).
"""

from __future__ import annotations

import math

import pytest

from weaver_facade import InvalidArgumentError
from weaver_facade.contract import ContractSettings

_URL = "http://127.0.0.1:9"


@pytest.mark.parametrize("name", ["deadline", "time_limit"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        (math.inf, "must be a finite number of seconds"),
        (-math.inf, "must be a finite number of seconds"),
        (math.nan, "must be a finite number of seconds"),
        (0.0, "must be positive"),
        (-1, "must be positive"),
        (1e10, "must be at most 31536000 seconds (a year)"),
        # No float holds it.
        pytest.param(10**400, "must be at most 31536000 seconds (a year)", id="int-1e400"),
        ("60", "must be a number of seconds"),
        (True, "must be a number of seconds"),
        (None, "must be a number of seconds"),
    ],
)
def test_a_time_the_command_line_refuses_is_refused_from_python(
    name: str, value: object, words: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        ContractSettings(base_url=_URL, **{name: value})  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"ContractSettings.{name} {words}"), caught.value


@pytest.mark.parametrize("name", ["max_examples", "stateful_steps"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "must be at least 1"),
        (-3, "must be at least 1"),
        (2.5, "must be an int"),
        (True, "must be an int"),
    ],
)
def test_a_count_below_one_is_refused_from_python(name: str, value: object, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        ContractSettings(base_url=_URL, **{name: value})  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"ContractSettings.{name} {words}"), caught.value


def test_times_and_counts_within_bounds_are_taken() -> None:
    settings = ContractSettings(
        base_url=_URL, deadline=0.5, time_limit=365 * 24 * 3600, max_examples=1, stateful_steps=1
    )
    assert (settings.deadline, settings.max_examples) == (0.5, 1)
    assert ContractSettings(base_url=_URL, deadline=3).deadline == 3  # an int is a number too

"""How long this client's recent operations took, to poll near the expected end. No I/O.

Against a server without long-poll every poll is a GET answered at once, so
when to send it is the whole question. A training loop repeats the same
operation on the same model, so the recent ones say when the next one should
end. Each finished operation leaves a bracket ``(lo, hi]``: it was not done
``lo`` seconds after it started (the last poll that saw it unfinished) and
was done at ``hi``. Brackets of recent operations of one model and kind
narrow the end down: ``lo`` is the largest of them, ``hi`` the smallest.

A wait then polls once at the expected end: at ``hi`` once the bracket is
narrow, else in its middle (so that the next bracket is half as wide), then
at ``hi``. Past ``hi``, with nothing more to go on, it falls back to the
poller's backoff, which keeps the lag within a fraction of the time waited.
A wait records only what it saw, so a first poll answered ``done`` records a
``lo`` of 0: operations that got faster are polled sooner once the older
brackets are out of the history.
"""

from __future__ import annotations

import collections
import copy
import threading
from collections.abc import Hashable
from typing import Any, NamedTuple

#: How many finished operations per model and kind are remembered.
HISTORY = 5


class Bracket(NamedTuple):
    """An operation was not done ``lo`` seconds after it started, and done at ``hi``."""

    lo: float
    hi: float


class Durations:
    """The brackets of recent operations, per key (model id, kind). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Hashable, collections.deque[Bracket]] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # A lock cannot be pickled (a ``PollPolicy`` sent to a worker process): a copy
        # gets its own, and the history so far.
        with self._lock:
            return (Durations, (), {"_seen": copy.deepcopy(self._seen)})

    def record(self, key: Hashable, bracket: Bracket) -> None:
        with self._lock:
            self._seen.setdefault(key, collections.deque(maxlen=HISTORY)).append(bracket)

    def clear(self) -> None:
        """Forget every bracket: they count from a start the next ones will not."""
        with self._lock:
            self._seen.clear()

    def expected(self, key: Hashable) -> Bracket | None:
        """Where the next operation of ``key`` should end, or ``None`` with no history.

        When the brackets disagree (the operations' durations changed), the
        latest one alone.
        """
        with self._lock:
            seen = list(self._seen.get(key, ()))
        if not seen:
            return None
        lo = max(b.lo for b in seen)
        hi = min(b.hi for b in seen)
        return Bracket(lo, hi) if lo < hi else seen[-1]


def next_poll(since: float, expected: Bracket, *, tolerance: float) -> float | None:
    """Seconds after the start at which to poll next, having seen it unfinished at
    ``since``; ``None`` when the history has nothing more to say (past ``hi``)."""
    # A sleep to `middle` may land a rounding error short of it: that poll was the one.
    if expected.hi - expected.lo > tolerance:
        middle = (expected.lo + expected.hi) / 2
        if since < middle - _SAME:
            return middle
    if since < expected.hi - _SAME:
        return expected.hi
    return None


_SAME = 1e-6

"""How long this client's recent operations took, to poll near the expected end. No I/O.

Against a server without long-poll every poll is a GET answered at once, so
when to send it is the whole question. A training loop repeats the same
operations on the same model, so the recent ones say when the next one should
end. Each finished operation leaves a bracket ``(lo, hi]``: it was not done
``lo`` seconds after it started (the last poll that saw it unfinished) and
was done at ``hi``. Its start is the wait's best guess (``Poller``): when it
was first seen, or the end of the queue the server counted down in
``pending_info.wait_seconds``; once such a countdown proved pessimistic, always
when first seen, and the brackets timed before are forgotten (``clear``).
Brackets of recent operations of one model and kind that overlap narrow one
end down: ``lo`` is the largest of them, ``hi`` the smallest. Brackets apart are
ends of their own: a loop's steps may vary (long batches and short ones, an
evaluation now and then).

A wait then polls at the shortest of these ends: at ``hi`` once its bracket
is narrow, else in its middle (so that the next bracket is half as wide), then
at ``hi``; then at the next ends, each sleep from there on at most a fraction
of the time since the start (in a wide bracket too), so that an operation still
running at the quickest end is seen late by at most that fraction of its
duration, whatever it is. With one operation alone to go on, it looks first at
that fraction of its ``lo``: a loop may begin with its longest operation (a
warm-up, a long batch), and a quicker next one, done by then, would leave a
bracket ``(0, hi]`` that fits the long one's, hiding the quick ones until the
long one is forgotten. Past the last end, with nothing more to go on, it
falls back to the poller's backoff, which keeps the lag within a fraction of
the time waited too. A wait records only what it saw, so a first poll answered
``done`` records a ``lo`` of 0: operations that got faster are polled sooner
once the older brackets are out of the history.
"""

from __future__ import annotations

import collections
import copy
import threading
from collections.abc import Hashable, Sequence
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

    def count(self, key: Hashable) -> int:
        """How many operations of ``key`` are remembered."""
        with self._lock:
            return len(self._seen.get(key, ()))

    def clear(self) -> None:
        """Forget every bracket: they count from a start the next ones will not."""
        with self._lock:
            self._seen.clear()

    def expected(self, key: Hashable) -> tuple[Bracket, ...]:
        """Where the next operation of ``key`` may end, shortest first: one bracket per
        group of recent ones that overlap, apart from the others (empty with no history)."""
        with self._lock:
            seen = sorted(self._seen.get(key, ()), key=lambda b: b.hi)
        ends: list[Bracket] = []
        for b in seen:
            if ends and b.lo < ends[-1].hi:  # sorted by hi: it overlaps the last group
                ends[-1] = Bracket(max(ends[-1].lo, b.lo), ends[-1].hi)
            else:
                ends.append(b)
        return tuple(ends)


def next_poll(
    since: float,
    ends: Sequence[Bracket],
    *,
    tolerance: float,
    least: float,
    ratio: float,
    probe: bool = False,
) -> float | None:
    """Seconds after the start at which to poll next, having seen it unfinished at
    ``since``; ``None`` past the last of ``ends`` (``Durations.expected``), where the
    history has nothing more to say.

    A bracket wider than ``tolerance`` of its end (at least ``least`` seconds) is polled
    in its middle first. Past the first end a sleep is at most ``ratio`` of the time since
    the start (at least ``least``). ``probe`` (ends of one operation alone): first a
    look at ``ratio`` of the first end's ``lo``, if that is at least ``least`` and before
    the poll it would make anyway.
    """
    for i, end in enumerate(ends):
        # A sleep to `middle` may land a rounding error short of it: that poll was the one.
        if since >= end.hi - _SAME:
            continue
        at, middle = end.hi, (end.lo + end.hi) / 2
        if end.hi - end.lo > max(least, tolerance * end.hi) and since < middle - _SAME:
            at = middle
        if i > 0:  # past the quickest end: within a fraction of the time, also in a wide one
            at = min(at, since + max(least, ratio * since))
        elif probe and least <= ratio * end.lo < at and since < ratio * end.lo - _SAME:
            at = ratio * end.lo  # a first look: a large ratio (the backoff alone) has none
        return at
    return None


_SAME = 1e-6

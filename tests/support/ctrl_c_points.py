"""A Ctrl-C at each point of a call where Python looks for one, in turn.

Python raises a signal's ``KeyboardInterrupt`` where it looks for a signal: as a function
starts and as a C call returns, whose result is then lost. A profile function sees both
("call", "c_return"), and raises one there as a Ctrl-C would. The interrupted call's last
``KeyboardInterrupt`` is kept, with its traceback, while the test looks at what it left,
as a REPL or a notebook keeps it (``sys.last_value``): what it holds alive (a suspended
generator) is not collected there.
"""

from __future__ import annotations

import asyncio.locks
import dis
import functools
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from types import CodeType, FrameType
from typing import Any

_ASYNCIO_LOCKS = asyncio.locks.__file__
_LOGGING = logging.__file__
_THREADING = threading.__file__
_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


@functools.cache
def _start(code: CodeType) -> int:
    """Where a generator's or a coroutine's frame starts (its first ``RESUME``)."""
    return next(i.offset for i in dis.get_instructions(code) if i.opname == "RESUME")


class _CtrlC:
    """A profile function that raises ``KeyboardInterrupt`` at the ``at``-th point (from 0),
    once; ``where`` it came ("" until then). One that comes in a callback Python runs on
    its own (a weakref's), which Python drops saying ``Exception ignored in``, is dropped
    unsaid: the call goes on."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.seen = 0
        self.where = ""
        self._raised: KeyboardInterrupt | None = KeyboardInterrupt()
        self._hook = sys.unraisablehook

    def start(self) -> None:
        sys.unraisablehook = self._dropped
        sys.setprofile(self)

    def stop(self) -> None:
        """Once ``sys.setprofile(None)``: a call here would be profiled."""
        sys.unraisablehook = self._hook
        # Its traceback holds this: no cycle, which would keep what it holds till a
        # collection (a context manager's generator left suspended).
        self._raised = None

    def _dropped(self, unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_value is not self._raised:
            self._hook(unraisable)

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event not in ("call", "c_return"):  # Python looks for no signal at the others
            return
        if (
            event == "call"
            and frame.f_code.co_flags & _RESUMABLE
            and frame.f_lasti != _start(frame.f_code)
        ):
            # Resumed: Python looks for a signal there only after a yield that next() or
            # send() resumes, within the frame, whose handlers (a finally) then run; one
            # raised here would skip them, as no Ctrl-C does.
            return
        if frame.f_code.co_filename == _ASYNCIO_LOCKS:
            return  # asyncio's own: under ``asyncio.run``, a first Ctrl-C is a cancel
        if frame.f_code.co_filename in (_LOGGING, _THREADING):
            # Theirs: one as a pure-Python lock (a logging handler's, a ``Condition``'s, an
            # ``Event``'s) takes its C lock leaves that held, and every other thread's use
            # (a later test's) waits for good: Python's hazard, not the call's.
            return
        if frame.f_globals is globals():  # its own: start's setprofile, under cProfile
            return
        if self.seen == self.at:
            sys.setprofile(None)
            called = f" of {getattr(arg, '__name__', arg)}" if event == "c_return" else ""
            self.where = f"{event}{called} in {frame.f_code.co_name}, line {frame.f_lineno}"
            assert self._raised is not None  # started
            raise self._raised
        self.seen += 1


def interrupted_at(at: int, call: Callable[[], object], kept: list[BaseException]) -> str:
    """Run ``call`` with a Ctrl-C at its ``at``-th point: where it came, "" if ``call``
    ended before; the Ctrl-C goes to ``kept``."""
    ctrl_c = _CtrlC(at)
    try:
        ctrl_c.start()
        call()
    except KeyboardInterrupt as exc:
        if not ctrl_c.where:
            raise
        kept.append(exc)
    finally:
        sys.setprofile(None)
        ctrl_c.stop()
    return ctrl_c.where


def ainterrupted_at(
    at: int, call: Callable[[], Coroutine[Any, Any, object]], kept: list[BaseException]
) -> str:
    """``interrupted_at`` for a coroutine that ends without waiting: it is sent to here,
    so that no Ctrl-C comes in the event loop's own code."""
    coro = call()
    ctrl_c = _CtrlC(at)
    try:
        ctrl_c.start()
        coro.send(None)
    except StopIteration:
        pass
    except KeyboardInterrupt as exc:
        if not ctrl_c.where:
            raise
        kept.append(exc)
    else:
        coro.close()
        raise AssertionError("the call waited")
    finally:
        sys.setprofile(None)
        ctrl_c.stop()
    return ctrl_c.where


def every_point(
    interrupted: Callable[[int, list[BaseException]], str], free: Callable[[], bool]
) -> int:
    """Interrupt at each point in turn (``interrupted(at, kept)``: ``interrupted_at``'s
    call) until a run ends without a Ctrl-C; ``free()`` must hold after each, while its
    Ctrl-C is kept. The number of points.

    A first run, not interrupted, makes the call's first-use imports: else its first points
    were the import system's, where a Ctrl-C may leave the global import lock held (every
    other thread's import then waits for good), and the runs after the import, shorter,
    ended the count before the call's last points."""
    interrupted(sys.maxsize, [])
    assert free(), "held after a run without a Ctrl-C"
    at = 0
    while True:
        kept: list[BaseException] = []
        try:
            where = interrupted(at, kept)
            assert free(), f"held after a Ctrl-C at point {at}: {where}"
        finally:
            kept.clear()  # and with it what the Ctrl-C's traceback held
        if not where:
            return at
        at += 1

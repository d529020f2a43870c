"""Ctrl-C held back while a request whose reply must not be lost is on its way.

A model's create is the case: once the POST has left, the server may make the
model, and only its reply tells the client which model to terminate on close. A
``KeyboardInterrupt`` raised while it is awaited loses the reply, and the model
stays running, holding training resources: so ``interrupt_held`` holds a first
Ctrl-C until the request ends (bounded by the client's timeouts).

A shared leaf: the contract kit's extension probe creates a model of its own too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import TypeVar

from ._sigterm import default_ctrl_c, raise_interrupt, taken_as_interrupt

_T = TypeVar("_T")


@contextmanager
def context_set(var: ContextVar[_T], value: _T) -> Iterator[None]:
    """``var`` set to ``value`` for the block, then to what it was. Set within the
    ``try``, not reset by token: a Ctrl-C as ``set()`` returns loses the token, which left
    the value on the thread for good (a socket cap, failing every later call of a REPL).
    One as the block is entered or left leaves it until its traceback is dropped: the
    generator, closed then (in whatever context collects it), restores only its own value,
    not a value an outer block (or another thread) has set since, as an outer cap."""
    before = var.get()
    closed = False
    try:
        var.set(value)
        yield
    except GeneratorExit:
        closed = True
        raise
    finally:
        if not closed or var.get() is value:
            var.set(before)


# Whether this thread waits with no request on its way (``between_requests``).
_idle = threading.local()


@contextmanager
def between_requests(idle: bool = True) -> Iterator[None]:
    """A wait with no request on its way (a retry's backoff): a first SIGINT that
    ``interrupt_held`` would hold is raised at once there, since no reply can be lost.
    With ``idle`` false, a request's attempt, which says while it is still ``connecting``."""
    before = getattr(_idle, "now", False)
    _idle.now = idle
    try:
        yield
    finally:
        _idle.now = before


def connecting(now: bool) -> None:
    """Whether the attempt (``between_requests(idle=False)``) is making its connection
    (TCP, TLS), as httpcore's trace tells: nothing of it has left, so a first SIGINT is
    raised at once then too. A connect to a host that drops packets held it for the
    whole connect timeout."""
    _idle.now = now


@contextmanager
def interrupt_held(on_hold: Callable[[], None]) -> Iterator[Callable[[], bool]]:
    """Hold a first SIGINT until the block ends, then raise ``KeyboardInterrupt`` (also
    over the block's own error, which becomes its ``__context__``); a second one raises at
    once, and so does a first one while the block waits ``between_requests``. ``on_hold``
    is called when the first is held; the block asks the function it is given whether
    one came.

    Only on the main thread, the one Python runs signal handlers on, and only in place of
    Python's default handler: a handler of the program's own is left to decide (the block
    then runs as it would without this). Where SIGINT is ignored, the SIGTERM that
    ``terminate_as_interrupt`` takes as a Ctrl-C is held instead (it would raise at once).
    """
    signum = _interrupt_signal()
    if signum is None:
        yield lambda: False
        return
    came = threading.Event()
    # No wait is on as the block begins: one that a Ctrl-C cut short as it began or ended
    # left its mark (its generator kept by the traceback, in a REPL), which let a first
    # Ctrl-C here through at once.
    _idle.now = False

    def hold(signum: int, frame: FrameType | None) -> None:
        if came.is_set() or getattr(_idle, "now", False):
            came.clear()  # raised now, not again when the block ends
            raise_interrupt()
        came.set()
        on_hold()

    previous = signal.signal(signum, hold)
    try:
        yield came.is_set
    finally:
        signal.signal(signum, previous)
        if came.is_set():
            raise_interrupt()


def _interrupt_signal() -> signal.Signals | None:
    """The signal ``interrupt_held`` holds here (see there), if any."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if default_ctrl_c():
        return signal.SIGINT
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and taken_as_interrupt():
        return signal.SIGTERM
    return None

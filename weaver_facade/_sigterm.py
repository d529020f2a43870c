"""SIGTERM ended as a Ctrl-C is, and every interrupt noted: for the command line and the kit.

A cancelled CI job (GitLab, Jenkins, ``docker stop``, Kubernetes) and ``timeout`` send
SIGTERM, whose default ends the process at once: no clean-up, and the models it made keep
training resources on the server. A signal's ``KeyboardInterrupt`` that comes while a
weakref callback or a ``__del__`` runs (an import's module lock, say) is printed and
dropped by Python: so each one is noted first, and a caller that must not go on as if
none came asks ``interrupted``. A shared leaf: it imports nothing of the facade.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import NoReturn

_came = threading.Event()
# Set by ``process_ends_after``: the outermost block then leaves SIGINT ignored, until
# ``ctrl_c_exits``.
_process_ends = threading.Event()
# Set as that block ends with the console script's Ctrl-C handler: ``ctrl_c_exits`` then
# leaves a Ctrl-C to end the process.
_ctrl_c_exits = threading.Event()


def raise_interrupt() -> NoReturn:
    """Raise ``KeyboardInterrupt`` for a signal, noted for ``interrupted``."""
    _came.set()
    raise KeyboardInterrupt


def _ctrl_c(signum: int, frame: FrameType | None) -> None:
    raise_interrupt()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Handed to the Ctrl-C handler, so that a model's create on its way holds it too
    # (``_interrupt``); raised here where SIGINT is ignored (a background job's).
    ctrl_c = signal.getsignal(signal.SIGINT)
    if callable(ctrl_c) and ctrl_c is not _interrupt:
        ctrl_c(signal.SIGINT, frame)
        return
    raise_interrupt()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM handled as Ctrl-C (SIGINT) within the block: its models terminated, exit 130.

    A block within another leaves the outer's handlers, and what ``interrupted`` says, be.
    """
    if threading.current_thread() is not threading.main_thread() or taken_as_interrupt():
        yield  # handlers are the main thread's; within another block, the outer's
        return
    _came.clear()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _ctrl_c)
    try:
        yield
    finally:
        if _process_ends.is_set():
            if signal.getsignal(signal.SIGINT) is _ctrl_c:
                _ctrl_c_exits.set()
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            # Its default, not ignored: an exit that hangs (its last line written to a pipe
            # nobody reads) must still end on SIGTERM. The console script's handler, which
            # raises, is left behind: it would cut the exit short with a traceback.
            signal.signal(signal.SIGTERM, signal.SIG_DFL if callable(previous) else previous)
        else:
            signal.signal(signal.SIGTERM, previous)
            if signal.getsignal(signal.SIGINT) is _ctrl_c:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        _came.clear()


_exiting = threading.Event()


def _exit_interrupted(signum: int, frame: FrameType | None) -> None:
    # A Ctrl-C as the process exits, which may hang (a thread Python waits for, a pipe
    # nobody reads): ended at once, as interrupted. A flush this one cut short fails
    # (reentrant); one that blocks, the next Ctrl-C skips.
    if not _exiting.is_set():
        _exiting.set()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # closed, or the flush it interrupted
                stream.flush()
    os._exit(130)


def process_ends_after() -> None:
    """For an entry point whose process exits once its command has ended (the console
    script): ``terminate_as_interrupt``'s block, which ends with the command's close, then
    leaves SIGINT ignored until ``ctrl_c_exits``, and SIGTERM at its default. Python's own
    handler again printed a traceback, or the process died by the signal, the command's
    exit status lost."""
    _process_ends.set()
    # Ignored again once the atexit hooks registered after this one have run: as Python
    # finalizes, it sets a handler of its own back to SIGINT's default, death by SIGINT.
    atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)


def ctrl_c_exits() -> None:
    """Once the console script's command says how it ended (its last line begins, or it
    ended without one): a Ctrl-C then ends the process at once with exit status 130, its
    output flushed, also an exit that hangs, where SIGINT was Python's own handler, until
    the atexit hooks. Ignored before, from the close's end on, one keeps that line."""
    if _ctrl_c_exits.is_set() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, _exit_interrupted)


def interrupted() -> bool:
    """Whether a Ctrl-C or SIGTERM came within ``terminate_as_interrupt``'s block (so far),
    also one whose ``KeyboardInterrupt`` Python dropped; outside one, ``False``."""
    return _came.is_set() and taken_as_interrupt()


def taken_as_interrupt() -> bool:
    """Whether SIGTERM is now handled as a Ctrl-C (within ``terminate_as_interrupt``)."""
    return signal.getsignal(signal.SIGTERM) is _interrupt


def default_ctrl_c() -> bool:
    """Whether SIGINT raises ``KeyboardInterrupt`` as Python's default handler does."""
    return signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _ctrl_c)

"""SIGTERM ended as a Ctrl-C is: for the command line and the contract kit.

A cancelled CI job (GitLab, Jenkins, ``docker stop``, Kubernetes) and ``timeout`` send
SIGTERM, whose default ends the process at once: no clean-up, and the models it made keep
training resources on the server. A shared leaf: it imports nothing of the facade.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["taken_as_interrupt", "terminate_as_interrupt"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Handed to the Ctrl-C handler, so that a model's create on its way holds it too
    # (``_interrupt``); raised here where SIGINT is ignored (a background job's).
    ctrl_c = signal.getsignal(signal.SIGINT)
    if callable(ctrl_c) and ctrl_c is not _interrupt:
        ctrl_c(signal.SIGINT, frame)
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM handled as Ctrl-C (SIGINT) within the block: its models terminated, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def taken_as_interrupt() -> bool:
    """Whether SIGTERM is now handled as a Ctrl-C (within ``terminate_as_interrupt``)."""
    return signal.getsignal(signal.SIGTERM) is _interrupt

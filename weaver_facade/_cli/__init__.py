"""The commands of ``weaver-facade`` (see ``weaver_facade.cli``); private modules.

``_state`` holds the per-invocation state and turns facade errors into exit
codes, ``_output`` renders results as rich tables or stable JSON,
``_progress`` shows operations being waited for; ``checkpoints`` (with
``artifacts``), ``operations`` and ``models`` are the command groups, and
``contract`` runs the contract kit. ``run_cli`` is the command the console
script runs (through the top-level ``_weaver_facade_cli``, which catches a Ctrl-C
while this package imports): it names the missing extra before anything imports
click.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from typing import NoReturn

from .._extras import require

# What a command group does, in the words of both the top-level --help (which lists the
# groups without importing them) and the group's own --help, which goes on from there.
SUMMARIES = {
    "checkpoints": "List, show, save, load, delete checkpoints; change their TTL; export and "
    "download their weights.",
    "operations": "Look at operations (training steps, saves, loads, exports) and wait for them.",
    "models": "List, show, create and terminate training models.",
}


def run_cli() -> NoReturn:
    """The ``weaver-facade`` command: ``weaver_facade.cli.main`` once ``cli`` is there."""
    require("cli", "the weaver-facade command")
    from ..cli import main

    if sys.stdout is None:  # started with it closed (`>&-`): Python gives no stream at all
        sys.stdout = _ClosedOutput()
    try:
        main()
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS or exc.filename is not None:
            raise
        # The output could not be written: a full disk, or a reader that went away.
        _to_devnull(sys.stdout)  # else the flush at exit fails again, with a traceback
        if exc.errno != errno.EPIPE:  # a closed pipe needs no word: its reader is gone
            sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
        raise SystemExit(1) from None
    raise SystemExit(0)  # click's standalone mode exits itself; this is for the type checker


# What writing to stdout fails with; a file the command writes names itself (filename).
_OUTPUT_ERRORS = frozenset(
    {errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EBADF}
)


class _ClosedOutput(io.TextIOBase):
    """A closed stdout's stand-in: writing fails as an output error, so that the command
    exits 1 rather than printing nothing into ``None`` and succeeding."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _to_devnull(stream: object) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # type: ignore[attr-defined]

"""Output that cannot be written, for every entry point: one line and exit status 1.

A full disk (``> /dev/full``), a closed stdout (``>&-``) or a reader gone (``| head``)
ended a command in a traceback, or, where the write failed unseen, with exit status 0
and nothing printed: a script took that for success. A shared leaf: it imports nothing
of the facade.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator

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


@contextlib.contextmanager
def output_errors() -> Iterator[None]:
    """Run an entry point: stdout's write failing in it ends it with ``error: cannot write
    the output: ...`` (nothing for a reader gone, which needs no word) and exit status 1."""
    if sys.stdout is None:  # started with it closed (`>&-`): Python gives no stream at all
        sys.stdout = _ClosedOutput()
    try:
        try:
            yield
        except SystemExit:  # how click and `sys.exit(main())` end
            sys.stdout.flush()  # what is still buffered fails here, not unseen at exit
            raise
        sys.stdout.flush()
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS or exc.filename is not None:
            raise
        _to_devnull(sys.stdout)  # else the flush at exit fails again, with a traceback
        if exc.errno != errno.EPIPE:
            sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
        raise SystemExit(1) from None


def _to_devnull(stream: object) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # type: ignore[attr-defined]

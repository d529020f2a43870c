"""Showing the operations the command line waits for, on stderr.

On a terminal a rich spinner shows the status and the server's
``pending_info`` (and, once a wait without a timeout runs long, how long it may
last and how to bound it); otherwise (a pipe, a CI log) each change is one plain line.
Both follow ``OperationHandle.watch()``, which yields only changes (status,
pending info, polls failing and recovering), so nothing here polls or repeats;
the spinner reads the handle's last ``wait_seconds`` at each redraw, since a new
one alone is no change.

Retries are shown too: every WARNING record of the ``weaver_facade`` logger
(one per retry) is one line on stderr, above a bar or spinner, unless ``-q``;
``WEAVER_LOG=debug`` or ``info`` adds the records of that level (each request and
reply), and any level it names is shown whatever ``-q`` says: the user asked for that log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import click

from .. import OperationHandle, OperationProgress, OperationStatus, PendingInfo, PollSettings
from .._dest import CONTROL_ESCAPES
from .._plural import counted
from .._watched import name_watched

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status
    from rich.text import Text

__all__ = [
    "Progress",
    "can_redraw",
    "columns_given",
    "describe",
    "new_console",
    "pending_reason",
    "printable",
    "show_retries",
    "stderr_is_a_tty",
    "to_stderr",
]


# Every control character but tab and newline (C0, DEL, C1) and line separator (U+2028,
# U+2029), as its escape (`\x1b`); and
# every lone surrogate, as the library's quotes write it (`\udce9`): a stream that cannot
# encode it wrote `?`, beside the quoted `'\udce9'`. A path the user gave escapes tab and
# newline too (`shown_path`).
_CONTROLS = {c: escape for c, escape in CONTROL_ESCAPES.items() if c not in (9, 10)}


def printable(text: str) -> str:
    """``text`` with its control characters (and lone surrogates) escaped, for the terminal:
    a server's words (an error message, a pending reason) carrying an escape sequence
    rewrote what the terminal showed (`ESC[2K` erased the error line it was in,
    `ESC]0;...` set the window's title); ``--json`` keeps them, escaped as JSON does."""
    return text.translate(_CONTROLS)


def to_stderr(text: str) -> None:
    """``text`` as a line on stderr, for progress, hints and the error of one REF among
    others (``checkpoints delete``): a stderr that cannot take it (a log on a full disk, a
    reader gone) is given up, not the command, whose first progress line ended it with
    exit status 1 and nothing on stdout, its save done."""
    try:
        click.echo(text, err=True)
    except OSError:
        # For good, to the null device: else the flush at exit fails again (exit status 120).
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())


def pending_reason(info: PendingInfo) -> str:
    """Why an operation is pending, in a few words: its code, and message if any."""
    return f"{info.code}: {info.message}" if info.message else info.code


def _pending(info: PendingInfo) -> str:
    text = pending_reason(info)
    if info.wait_seconds is not None:
        # As sent: it may be the time left or the time already waited (``PendingInfo``).
        text += f", wait_seconds {info.wait_seconds:.1f}"
    return text


def describe(progress: OperationProgress) -> str:
    """One line: the operation, its status and, while pending, why; or an outage."""
    head = f"{name_watched(progress.operation_id)}: "
    if progress.poll_error is not None:
        return f"{head}polls failing: {progress.poll_error}; retrying"
    text = head + ("polls answered again; " if progress.recovered else "") + progress.status.value
    if progress.status is OperationStatus.PENDING and progress.pending_info is not None:
        text += f" ({_pending(progress.pending_info)})"
    conversion = progress.conversion
    if conversion is not None and not progress.status.is_terminal:
        done, total = conversion.shards_done, conversion.shards_total
        files = counted(done, "file") if total is None else f"{done} of {counted(total, 'file')}"
        text += f" (converted {files}, {conversion.bytes_done / 2**20:.1f} MiB)"
    return text


def stderr_is_a_tty() -> bool:
    """Whether stderr is a terminal; ``False`` when it was closed (``2>&-``: no stream)."""
    stream = sys.stderr
    return stream is not None and stream.isatty()


def columns_given() -> bool:
    """Whether ``COLUMNS`` gives a width: digits, as rich reads them, but not 0."""
    columns = os.environ.get("COLUMNS", "")
    return columns.isdigit() and int(columns) > 0


def new_console(*, stderr: bool = False, highlight: bool = True) -> Console:
    """A rich console of stdout (or stderr). A ``COLUMNS`` or ``LINES`` of 0, which a shell
    exports for a terminal of no size (a CI pseudo-terminal), counts as unset: rich took it
    for a width of nothing and printed nothing at all, a table lost with exit status 0 (and
    for a height of nothing, a spinner that showed only `...`)."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=highlight)
    if console.width < 1 or console.height < 1:
        try:
            size = os.get_terminal_size(console.file.fileno())
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size((0, 0))
        # rich's own sizes without a terminal's
        console.width = console.width if console.width > 0 else size.columns or 80
        console.height = console.height if console.height > 0 else size.lines or 25
    return console


def can_redraw(console: Console) -> bool:
    """Whether ``console`` is a terminal that a spinner or a bar can redraw: rich draws
    neither on ``TERM=dumb`` (an Emacs shell, some CI consoles), so plain lines go there."""
    return console.is_terminal and not console.is_dumb_terminal


def _live_stderr() -> TextIO | None:
    """``sys.stderr`` while a rich bar or spinner is live, else ``None`` (click's stream):
    rich then proxies it, printing each line above the display; click's own stream went
    past the proxy to the file under it, onto the bar's line (`-:--:--storage GET ...`)."""
    stream = sys.stderr
    return stream if hasattr(stream, "rich_proxied_file") else None


class _StderrLines(logging.Handler):
    """Log records as plain stderr lines (through click, so tests and rich see them); a
    record that names library calls carries the command line's words as ``cli_message``
    (``logger.warning(..., extra={"cli_message": ...})``), shown instead; one that says
    something may be left running on the server is marked ``left_running``."""

    _weaver_env_handler = True  # WEAVER_LOG then only sets the level; no second handler

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("weaver_facade.emulator"):
            return  # `weaver-facade emulator` configures logging of its own: no second copy
        try:
            words = getattr(record, "cli_message", None)
            line = words if isinstance(words, str) else self.format(record)
            click.echo(printable(line), err=True, file=_live_stderr())
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)


def show_retries(*, quiet: bool) -> Callable[[], None]:
    """Print each retry of the facade (its WARNING records) on stderr, or with ``quiet``
    only the log ``WEAVER_LOG`` asks for and a WARNING that something may be left running
    on the server (``left_running``: a model a create's lost reply may have made, which a
    CI job's log must keep); returns the undo. Installed even when quiet, so that Python's
    last-resort handler does not print them instead."""
    logger = logging.getLogger("weaver_facade")
    # WEAVER_LOG sets the logger's level (the facade reads it); below WARNING, this
    # handler must let those records through too. It is a log the user asked for, which
    # -q (the command's own lines) does not silence.
    asked = logging.getLevelName(os.environ.get("WEAVER_LOG", "").strip().upper())
    if isinstance(asked, int):
        level = asked if quiet else min(logging.WARNING, asked)
    else:
        level = logging.ERROR if quiet else logging.WARNING
    handler = _StderrLines(min(level, logging.WARNING))
    handler.addFilter(lambda r: r.levelno >= level or getattr(r, "left_running", False) is True)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return lambda: logger.removeHandler(handler)


# A wait without --timeout, once it has lasted this long, says on its spinner when it ends
# and how to bound it: the library's own WARNING comes after five minutes.
_HINT_AFTER = 30.0
_HINT = f"; waits up to {PollSettings().timeout:g} s in all: --timeout SECONDS sets that"


class _Line:
    """The spinner's text, with the seconds since it last changed, counted at each redraw,
    and ``hint()``; ``fresh``, if given, gives the text anew at each redraw."""

    def __init__(
        self,
        text: str,
        clock: Callable[[], float],
        fresh: Callable[[], str] | None,
        hint: Callable[[], str],
    ) -> None:
        self.text = text
        self._clock = clock
        self._since = clock()
        self._fresh = fresh
        self._hint = hint

    def __rich__(self) -> Text:
        from rich.text import Text

        text = self.text if self._fresh is None else self._fresh()
        # Text, not a str: a server's message must not be read as rich markup.
        return Text(f"{text} [{self._clock() - self._since:.0f} s{self._hint()}]")


def _as_last_sent(
    progress: OperationProgress, shown: PendingInfo, handle: OperationHandle[Any]
) -> Callable[[], str]:
    """``progress``'s line (pending for ``shown``) with the ``wait_seconds`` of the
    handle's last reply: a new one alone is no change, so the change's own stayed on
    screen for the whole wait (the time already waited, frozen at 0.0; an estimate
    counted down, frozen too)."""
    reason = attrs.evolve(shown, wait_seconds=None)
    last = [shown]

    def text() -> str:
        # Read in rich's thread; a reply of another status or reason is a change, shown next
        # (until then, the last of this one stays).
        info = handle.pending_info
        if (
            info is not None
            and handle.status is progress.status
            and attrs.evolve(info, wait_seconds=None) == reason
        ):
            last[0] = info
        return printable(describe(attrs.evolve(progress, pending_info=last[0])))

    return text


class Progress:
    """Shows the changes of the operations followed inside ``active()``.

    Args:
        quiet: Report nothing.
        console: Where the spinner goes (tests pass one that acts as a terminal);
            by default a rich console on stderr, used only when stderr is a TTY.
        clock: Seconds, for the time shown next to the spinner.
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        console: Console | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self._clock = clock
        self._console = console
        self._status: Status | None = None
        self._active = False
        self._shown: str | None = None  # the line shown last, not shown again
        self._following: OperationHandle[Any] | None = None  # the handle ``follow`` waits for
        self._unbounded_since: float | None = None  # when ``follow`` began, with no timeout
        #: The last operation reported, named when a wait is interrupted.
        self.last_operation_id: str | None = None
        #: Its last status seen, ``None`` before its first change.
        self.last_status: OperationStatus | None = None

    def _terminal(self) -> Console | None:
        if self._console is None:
            if not stderr_is_a_tty():
                return None
            self._console = new_console(stderr=True)
        return self._console if can_redraw(self._console) else None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Report the operations started or waited for in this block."""
        self._active = True
        try:
            yield
        finally:
            self._active = False
            self.stop()

    def follow(self, handle: OperationHandle[Any], timeout: float | None) -> None:
        """Wait for ``handle`` (up to ``timeout`` seconds), showing each change."""
        self.last_operation_id = handle.id  # named on Ctrl-C even before its first change
        self._following = handle
        self._unbounded_since = self._clock() if timeout is None else None
        try:
            for change in handle.watch(timeout):
                self(change)
        finally:
            self._following = None
            self._unbounded_since = None

    def _hint(self) -> str:
        """What a long wait without a timeout adds to its spinner."""
        since = self._unbounded_since
        return _HINT if since is not None and self._clock() - since >= _HINT_AFTER else ""

    def __call__(self, progress: OperationProgress) -> None:
        if not self._active:
            return
        self.last_operation_id = progress.operation_id
        self.last_status = progress.status
        if self.quiet:
            return
        text = printable(describe(progress))
        console = self._terminal()
        if progress.status.is_terminal and console is not None:
            self.stop()
            return
        # A change the line does not show (an export's bytes within 0.1 MiB) is no new
        # line, nor a spinner's time counted afresh.
        if text == self._shown:
            return
        self._shown = text
        if console is None:
            to_stderr(text)
        else:
            fresh = None
            handle, info = self._following, progress.pending_info
            if handle is not None and info is not None and progress.poll_error is None:
                fresh = _as_last_sent(progress, info, handle)
            line = _Line(text, self._clock, fresh, self._hint)
            if self._status is None:
                self._status = console.status(line, spinner="dots")
                self._status.start()
            else:
                self._status.update(line)

    def stop(self) -> None:
        """Remove the spinner, if one is showing."""
        self._shown = None
        if self._status is not None:
            self._status.stop()
            self._status = None

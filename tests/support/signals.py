"""Start a command with a chosen SIGINT disposition, whatever the test run inherited, and
watch its stderr while signals reach it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping

# A terminal starts a job in its own process group, SIGINT at its default for a foreground
# job; a script's background job inherits SIGINT ignored (so does a test run started as one).
# Ctrl-C sends SIGINT to the group.
_LAUNCH = (
    "import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def with_sigint(disposition: str, argv: list[str]) -> list[str]:
    """``argv`` run with SIGINT's disposition ``disposition`` (``"SIG_DFL"`` or
    ``"SIG_IGN"``); the process keeps its pid, so signals reach the command itself."""
    return [sys.executable, "-c", _LAUNCH, disposition, *argv]


def ctrl_c(process: subprocess.Popen[str], timeout: float) -> tuple[str, str, float]:
    """SIGINT to ``process``; its stdout and stderr once it ends, and the seconds it took
    (killed, and ``TimeoutExpired`` raised, if it runs on past ``timeout``)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return stdout, stderr, time.monotonic() - sent


class Watched:
    """A running command whose stderr a thread reads line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()

    def line_starting(self, prefix: str, timeout: float) -> bool:
        """Whether a line starting with ``prefix`` came within ``timeout`` seconds."""
        with self._new_line:
            return self._new_line.wait_for(
                lambda: any(line.startswith(prefix) for line in self.lines), timeout
            )

    @property
    def stderr(self) -> str:
        self._reader.join(5)
        return "".join(self.lines)


@contextlib.contextmanager
def watched(argv: list[str], env: Mapping[str, str]) -> Iterator[Watched]:
    """``argv`` started with its stdout dropped and its stderr watched; killed if it is
    still running on the way out (bounded: the process is waited for)."""
    with subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(env)
    ) as process:
        try:
            yield Watched(process)
        finally:
            if process.poll() is None:
                process.kill()

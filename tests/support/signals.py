"""Start a command with a chosen SIGINT disposition, whatever the test run inherited."""

from __future__ import annotations

import sys

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

"""The ``weaver-facade`` console script, outside the ``weaver_facade`` package.

Importing anything of ``weaver_facade`` runs the package's ``__init__`` first,
a few tenths of a second (httpx, the generated client) in which none of the
command's code runs yet to catch a Ctrl-C: a traceback, and death by SIGINT.
This module imports nothing of it, so that an interrupt while the command loads
ends as one does once it runs: ``error: interrupted`` (with ``--json``, its JSON
document on stdout too) and exit 130. So does a
SIGTERM (a cancelled CI job), which the command takes as a Ctrl-C once it runs.
"""

import contextlib
import json
import signal
import sys
import threading
from types import FrameType

__all__ = ["run"]


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run() -> None:
    """``weaver_facade._cli.run_cli``, imported here."""
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        from weaver_facade._cli import run_cli

        run_cli()
    except KeyboardInterrupt:  # later, the command's own handlers turn it into the same
        if _asks_json(sys.argv[1:]):
            with contextlib.suppress(OSError, AttributeError, ValueError):  # stdout closed
                sys.stdout.write(json.dumps({"error": _INTERRUPTED}, indent=2) + "\n")
                sys.stdout.flush()
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None


# The `--json` document of an interrupt, as the command prints it (``error_payload``).
_INTERRUPTED = {
    "type": "KeyboardInterrupt",
    "message": "interrupted",
    "code": None,
    "status_code": None,
    "request_id": None,
    "retry_after": None,
    "operation_id": None,
    "exit_code": 130,
}


# The commands that print no JSON (the group refuses their --json), and the group's
# options that take a value, which is no command's name.
_NO_JSON = frozenset({"emulator", "contract-test"})
_VALUED = frozenset({"--base-url", "--api-key", "--max-retries"})


def _asks_json(args: list[str]) -> bool:
    """Whether a command line asks for JSON (``--json`` before any ``--``) of a command that
    prints it: not ``emulator`` or ``contract-test`` named as the command (the first word
    that is no option or option's value), as an argument may be (``checkpoints show
    emulator``)."""
    words = args[: args.index("--")] if "--" in args else args
    values = {i + 1 for i, word in enumerate(words) if word in _VALUED}
    named = [word for i, word in enumerate(words) if not word.startswith("-") and i not in values]
    return "--json" in words and not (named and named[0] in _NO_JSON)

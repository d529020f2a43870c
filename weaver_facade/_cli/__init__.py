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

from typing import NoReturn

from .._extras import require
from .._sigterm import ctrl_c_exits, process_ends_after
from .._stdout import output_errors

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

    process_ends_after()
    with output_errors():
        try:
            main()
        finally:  # a command that ended without an error line (CliError.show's)
            ctrl_c_exits()
    raise SystemExit(0)  # click's standalone mode exits itself; this is for the type checker

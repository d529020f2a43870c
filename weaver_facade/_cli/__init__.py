"""The commands of ``weaver-facade`` (see ``weaver_facade.cli``); private modules.

``_state`` holds the per-invocation state and turns facade errors into exit
codes, ``_output`` renders results as rich tables or stable JSON,
``_progress`` shows operations being waited for; ``checkpoints`` (with
``artifacts``), ``operations`` and ``models`` are the command groups, and
``contract`` runs the contract kit. ``run_cli`` is the console script: it names
the missing extra before anything imports click.
"""

from __future__ import annotations

from typing import NoReturn

from .._extras import require


def run_cli() -> NoReturn:
    """The ``weaver-facade`` console script: ``weaver_facade.cli.main`` once ``cli`` is there."""
    require("cli", "the weaver-facade command")
    from ..cli import main

    main()
    raise SystemExit(0)  # click's standalone mode exits itself; this is for the type checker

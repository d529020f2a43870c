"""``weaver-facade contract-test``: the contract-test kit, for an installed package.

The same options as ``python -m weaver_facade.contract`` (``--help`` shows
them); the global ``--base-url`` and ``--api-key`` (or ``WEAVER_BASE_URL`` and
``WEAVER_API_KEY``) name the server, before or after ``contract-test``.
"""

from __future__ import annotations

import os

import click

from ..contract._cli import main
from ._state import current_state

__all__ = ["contract_test"]


@click.command(
    "contract-test",
    add_help_option=False,  # --help goes to the kit's own parser, which knows its options
    context_settings={"ignore_unknown_options": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def contract_test(args: tuple[str, ...]) -> None:
    """Hold a live Weaver server to openapi.yaml and name every drift (--help: its options)."""
    state = current_state()
    argv = list(args)
    # click fills --api-key and --base-url from WEAVER_API_KEY and WEAVER_BASE_URL, which
    # the kit reads itself: passed on as flags, a refusal of their value named a flag the
    # user never gave (as ``CliState``). An in-process argument list: `ps` shows no key.
    # An empty one too, which the kit refuses (dropped, the kit took the variable's).
    for option, variable, given in (
        ("--api-key", "WEAVER_API_KEY", state.api_key),
        ("--base-url", "WEAVER_BASE_URL", state.base_url),
    ):
        if given is not None and given.reveal() != os.environ.get(variable):
            argv = [option, given.reveal(), *argv]
    raise click.exceptions.Exit(main(argv, prog="weaver-facade contract-test"))

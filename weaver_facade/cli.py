"""The ``weaver-facade`` command line (needs the ``cli`` extra).

::

    weaver-facade checkpoints list MODEL_ID
    weaver-facade checkpoints show REF
    weaver-facade checkpoints save MODEL_ID NAME [--weights-only] [--ttl SECONDS]
    weaver-facade checkpoints load MODEL_ID REF [--with-optimizer]
    weaver-facade checkpoints delete REF...
    weaver-facade checkpoints set-ttl REF (--ttl SECONDS | --permanent)
    weaver-facade checkpoints export REF [--merge-adapter] [--ttl S] [--force] [--no-wait]
    weaver-facade checkpoints artifacts REF
    weaver-facade checkpoints download REF -o DIR [--kind K] [--no-verify] [--max-concurrency N]
    weaver-facade operations show OP_ID
    weaver-facade operations wait OP_ID [--timeout SECONDS]
    weaver-facade emulator ...

The server and key come from ``--base-url``/``--api-key`` or, as in the
library, ``WEAVER_BASE_URL``/``WEAVER_API_KEY`` (prefer the variable for the
key: a command line is visible to other users). Every command prints a table,
or JSON with stable keys under ``--json``. Exit statuses: 0 success, 1 API
error (refused request, unreachable server, failed or unfinished operation),
2 usage error (including invalid checkpoint paths, names and TTLs, refused
before any request), 130 interrupted.

Subcommands are imported only when they run, so importing this module (or
asking for ``--help``) does not pull the emulator's numpy and uvicorn.
To add a subcommand, register it in ``_LAZY_COMMANDS`` or attach it with
``main.add_command(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click

from ._cli._state import EXIT_USAGE, CliError, CliState

__all__ = ["main"]


class _Lazy(NamedTuple):
    module: str
    help: str
    extra: str


_LAZY_COMMANDS: dict[str, _Lazy] = {
    "checkpoints": _Lazy(
        "weaver_facade._cli.checkpoints",
        "List, show, save, load, delete checkpoints; change their TTL; export and download "
        "their weights.",
        "cli",
    ),
    "operations": _Lazy(
        "weaver_facade._cli.operations", "Show an operation, or wait for it to end.", "cli"
    ),
    "emulator": _Lazy(
        "weaver_facade.emulator._cli",
        "Run the local Weaver emulator (extra: emulator).",
        "emulator",
    ),
}


def _one_line(exc: click.UsageError) -> CliError:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return CliError(f"{exc.format_message()}{hint}", exit_code=EXIT_USAGE)


class _LazyGroup(click.Group):
    # Usage errors are one line too, like every other error (click prints three).

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in _LAZY_COMMANDS:
            return command
        lazy = _LAZY_COMMANDS[cmd_name]
        try:
            module: Any = importlib.import_module(lazy.module)
        except ImportError as exc:
            raise click.ClickException(
                f"`{cmd_name}` needs an optional dependency that is not installed ({exc.name}); "
                f"install weaver-facade[{lazy.extra}]"
            ) from exc
        loaded = getattr(module, cmd_name)
        assert isinstance(loaded, click.Command)
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Show lazy commands' help without importing them.
        rows = []
        for name in self.list_commands(ctx):
            if name in _LAZY_COMMANDS and name not in self.commands:
                rows.append((name, _LAZY_COMMANDS[name].help))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str()))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--base-url",
    envvar="WEAVER_BASE_URL",
    metavar="URL",
    help="The server root, such as http://127.0.0.1:8080. [env: WEAVER_BASE_URL]",
)
@click.option(
    "--api-key",
    envvar="WEAVER_API_KEY",
    metavar="KEY",
    help="The API key; never printed. Prefer the environment variable, which other users "
    "cannot see in the process list. [env: WEAVER_API_KEY]",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 20),
    default=4,
    show_default=True,
    help="Retries of a failed HTTP request (connection errors, 429, 503).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("-q", "--quiet", is_flag=True, help="Print no progress while waiting.")
@click.version_option(package_name="weaver-facade")
@click.pass_context
def main(
    ctx: click.Context,
    base_url: str | None,
    api_key: str | None,
    max_retries: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """weaver-facade: Weaver's checkpoint workflow from the command line.

    REF is a checkpoint's weaver://MODEL_ID/checkpoints/NAME path, or its id
    or name with --model MODEL_ID. Exit status: 0 success, 1 API error,
    2 usage error, 130 interrupted.
    """
    state = CliState(
        base_url=base_url, api_key=api_key, max_retries=max_retries, as_json=as_json, quiet=quiet
    )
    ctx.obj = state
    ctx.call_on_close(state.close)

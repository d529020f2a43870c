"""The ``weaver-facade`` command line (needs the ``cli`` extra).

In short (the README's "The command line" and each command's ``--help`` give every
option)::

    weaver-facade checkpoints list MODEL_ID
    weaver-facade checkpoints show REF
    weaver-facade checkpoints save MODEL_ID NAME [--weights-only] [--ttl SECONDS]
    weaver-facade checkpoints load MODEL_ID REF [--with-optimizer]
    weaver-facade checkpoints delete REF...
    weaver-facade checkpoints set-ttl REF (--ttl SECONDS | --permanent)
    weaver-facade checkpoints export REF [--merge-adapter] [--ttl S | --follow-checkpoint]
        [--force] [--no-wait]
    weaver-facade checkpoints artifacts REF
    weaver-facade checkpoints download REF -o DIR [--kind K] [--no-verify] [--max-concurrency N]
    weaver-facade operations show OP_ID
    weaver-facade operations wait OP_ID [--timeout SECONDS]
    weaver-facade models list | show MODEL_ID | terminate MODEL_ID
    weaver-facade models create BASE_MODEL [--full | [--lora-rank N] [--seed N]]
    weaver-facade supported-models
    weaver-facade emulator ...
    weaver-facade contract-test ...

The server and key come from ``--base-url``/``--api-key`` or, as in the
library, ``WEAVER_BASE_URL``/``WEAVER_API_KEY`` (prefer the variable for the
key: a command line is visible to other users). The global options
(``--base-url``, ``--api-key``, ``--max-retries``, ``--json``, ``-q``) may come
before or after any subcommand. Every command prints a table,
or JSON with stable keys under ``--json`` (``emulator`` and ``contract-test``
print no JSON and refuse it, and the client's options they have no use for).
Exit statuses: 0 success, 1 API error (refused request, unreachable server,
failed or unfinished operation), 2 usage error (including invalid checkpoint
paths, names and TTLs, refused before any request), 130 interrupted (Ctrl-C, or
SIGTERM but for ``emulator``).

Subcommands are imported only when they run, so importing this module (or
asking for ``--help``) does not pull the emulator's numpy and uvicorn.
To add a subcommand, register it in ``_LAZY_COMMANDS`` (a hyphen in its name
is an underscore in its module's attribute) or attach it with
``main.add_command(...)``; either way it and its own subcommands accept the
global options.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, NamedTuple

if __name__ == "__main__":  # `python -m weaver_facade.cli`: name a missing extra, not click
    from ._extras import require

    require("cli", "the weaver-facade command")

import click
from click.core import ParameterSource

from ._cli import SUMMARIES
from ._cli._state import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    CliState,
    dropped_interrupts_unshown,
    error_payload,
    hiding_given_secrets,
)
from ._extras import missing_extra_message, missing_module
from ._help import Context, WholeNumber
from ._sigterm import terminate_as_interrupt

__all__ = ["main"]


class _Lazy(NamedTuple):
    module: str
    help: str
    extra: str


_LAZY_COMMANDS: dict[str, _Lazy] = {
    "checkpoints": _Lazy("weaver_facade._cli.checkpoints", SUMMARIES["checkpoints"], "cli"),
    "operations": _Lazy("weaver_facade._cli.operations", SUMMARIES["operations"], "cli"),
    "models": _Lazy("weaver_facade._cli.models", SUMMARIES["models"], "cli"),
    "supported-models": _Lazy(
        "weaver_facade._cli.models", "List the base models the server can train from.", "cli"
    ),
    "emulator": _Lazy(
        "weaver_facade.emulator._cli",
        "Run the local Weaver emulator (extra: emulator).",
        "emulator",
    ),
    "contract-test": _Lazy(
        "weaver_facade._cli.contract",
        "Hold a live Weaver server to openapi.yaml (extra: contract).",
        "contract",
    ),
}

# The top-level options that every subcommand accepts too, after its name.
_GLOBAL_OPTIONS = ("base_url", "api_key", "max_retries", "as_json", "quiet")
_ACCEPTS_GLOBALS = "_weaver_accepts_global_options"

# Global options a command has no use for are refused (before or after its name) rather
# than ignored, with what the command does instead.
_NOT_FOR: dict[str, dict[str, str]] = {
    "emulator": {
        "as_json": "which prints no JSON (its ready line on stdout gives its URL)",
        "base_url": "which serves at its own --host and --port",
        "max_retries": "which sends no request to retry",
        "quiet": "which logs as a server does; redirect its stderr to hide that",
    },
    "contract-test": {
        "as_json": "which prints its report as text; `--report DIR` writes it as JSON "
        "(DIR/contract-report.json) and JUnit XML",
        "max_retries": "which sends a request again when a 429 or 503 asks it to wait, and "
        "one of its own after a reply lost on the way where that is safe (up to 3 times)",
        "quiet": "whose progress lines on stderr are its only sign of life while it runs; "
        "redirect its stderr to hide them",
    },
}
_FLAGS = {
    "as_json": "--json",
    "base_url": "--base-url",
    "api_key": "--api-key",
    "max_retries": "--max-retries",
    "quiet": "-q",
}


def _refused(command: str, name: str) -> CliError:
    message = f"{_FLAGS[name]} is not for `weaver-facade {command}`, {_NOT_FOR[command][name]}"
    return CliError(message, exit_code=EXIT_USAGE)


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    name = param.name
    if name is not None and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
        if ctx.info_name is not None and name in _NOT_FOR.get(ctx.info_name, {}):
            raise _refused(ctx.info_name, name)
        ctx.ensure_object(CliState).set_global(name, value)


def _accept_global_options(command: click.Command, top: click.Command) -> None:
    """Let ``command`` and its subcommands take the global options after their names.

    Each gets a hidden copy of the top-level option that writes into the
    invocation's ``CliState``; an option the command defines itself (such as
    the emulator's ``--api-key``) keeps its own meaning.
    """
    if getattr(command, _ACCEPTS_GLOBALS, False):
        return
    setattr(command, _ACCEPTS_GLOBALS, True)
    command.context_class = Context
    taken = {opt for p in command.params for opt in p.opts + p.secondary_opts}
    for option in top.params:
        if option.name not in _GLOBAL_OPTIONS or not isinstance(option, click.Option):
            continue
        if taken.intersection(option.opts):
            continue
        # is_flag=False would make the value optional: `--api-key` with nothing after it
        # would quietly leave the environment's key in place.
        flag: dict[str, Any] = {"is_flag": True} if option.is_flag else {"type": option.type}
        command.params.append(
            click.Option(
                [*option.opts, option.name],
                **flag,
                metavar=option.metavar,
                help=option.help,
                expose_value=False,
                is_eager=True,
                hidden=True,
                callback=_set_global,
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub, top)


def _flags(commands: Iterable[click.Command]) -> set[str]:
    """The names of the options of ``commands`` and their subcommands that take no value in
    any of them: one that takes a value in one may have taken the next word for it."""
    flags: set[str] = set()
    values: set[str] = set()
    todo = list(commands)
    while todo:
        command = todo.pop()
        for option in command.params:
            if isinstance(option, click.Option):
                (flags if option.is_flag else values).update(option.opts + option.secondary_opts)
        if isinstance(command, click.Group):
            todo += command.commands.values()
    return flags - values


_GIVEN = "weaver_facade.cli.args"


def _asks_json(args: list[str]) -> bool:
    """Whether ``--json`` is among a command line's words (before any ``--``)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _wants_json(ctx: click.Context, given: list[str] | None) -> bool:
    # --json after the command is in the state once the command's options are parsed;
    # before it, in the top level's parameters, also when the error comes first. An
    # option the parser refused ends the parse before --json is read: the words tell.
    state = ctx.find_object(CliState)
    wanted = state.as_json if state is not None else ctx.find_root().params.get("as_json")
    prints_json = "as_json" not in _NOT_FOR.get(ctx.info_name or "", {})
    return bool(wanted or (given is not None and prints_json and _asks_json(given)))


def _one_line(exc: click.UsageError, given: list[str] | None = None) -> CliError:
    if exc.ctx is None:
        return CliError(exc.format_message(), exit_code=EXIT_USAGE)
    message = f"{exc.format_message()} (see '{exc.ctx.command_path} --help')"
    payload = error_payload(exc, EXIT_USAGE, message) if _wants_json(exc.ctx, given) else None
    return CliError(message, exit_code=EXIT_USAGE, payload=payload)


class _Root(Context):
    """The top level's context, whose close (terminating the model of a create that a
    Ctrl-C ended, say) a second Ctrl-C may cut short: the command then ends as it was
    ending, with its own error (the first Ctrl-C's line and exit 130), or as interrupted,
    rather than with click's "Aborted!" and exit 1."""

    def _close_with_exception_info(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            return super()._close_with_exception_info(exc_type, exc_value, tb)
        except KeyboardInterrupt:
            if isinstance(exc_value, click.ClickException):
                return None  # raised again as it was
            raise CliError("interrupted", exit_code=EXIT_INTERRUPTED) from None


class _LazyGroup(click.Group):
    # Usage errors are one line too, like every other error (click prints three).

    context_class = _Root

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}  # lazy ones too, for their flags

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> Any:
        words = sys.argv[1:] if args is None else args
        with hiding_given_secrets(words, lambda: _flags([self, *self._loaded.values()])):
            return super().main(args, *rest, **extra)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, list(args), parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc, args) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_GIVEN] = list(args)  # the words, for a usage error that ends their parse
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc, ctx.meta.get(_GIVEN)) from None
        except KeyboardInterrupt as exc:
            if isinstance(exc.__context__, CliError):
                # As that error left the command (the spinner's stop, click's contexts):
                # its line, not a bare one.
                raise exc.__context__ from None
            # Before a command's own handling (its module loading, say): click would say
            # "Aborted!" and exit 1.
            wanted = _wants_json(ctx, ctx.meta.get(_GIVEN))
            payload = error_payload(exc, EXIT_INTERRUPTED, "interrupted") if wanted else None
            raise CliError("interrupted", exit_code=EXIT_INTERRUPTED, payload=payload) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            # click suggests among the commands registered, which the lazy ones are not.
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _LAZY_COMMANDS:
            command = self._load(cmd_name, _LAZY_COMMANDS[cmd_name])
        if command is not None:
            _accept_global_options(command, self)
            self._loaded[cmd_name] = command
        return command

    @staticmethod
    def _load(cmd_name: str, lazy: _Lazy) -> click.Command:
        what = f"weaver-facade {cmd_name}"
        if missing_module(lazy.extra) is not None:
            raise CliError(missing_extra_message(lazy.extra, what), exit_code=EXIT_USAGE)
        try:
            module: Any = importlib.import_module(lazy.module)
        except ModuleNotFoundError as exc:  # an extra installed only in part
            raise CliError(
                f"{missing_extra_message(lazy.extra, what)} (cannot import {exc.name})",
                exit_code=EXIT_USAGE,
            ) from exc
        loaded = getattr(module, cmd_name.replace("-", "_"))
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
    type=WholeNumber(0, 20),
    metavar="N",
    default=4,
    show_default=True,
    help="Retries of a failed API request (connection errors, 429, 503); a download's "
    "transfers from storage retry on their own, 8 times in a row at least, or N if more; "
    "a wait polls on through failed polls until its --timeout.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("-q", "--quiet", is_flag=True, help="Print no progress or hints on stderr.")
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
    or name with --model MODEL_ID. The options below may also follow any
    command. Exit status: 0 success, 1 API error, 2 usage error,
    130 interrupted.
    """
    command = ctx.invoked_subcommand or ""
    for name in _NOT_FOR.get(command, {}):
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            raise _refused(command, name)
    given = ctx.get_parameter_source("api_key") is ParameterSource.COMMANDLINE
    if given and ctx.invoked_subcommand == "emulator":
        # Taken for the emulator's, it left an emulator with auth off, in silence.
        raise CliError(
            "--api-key before `emulator` is a client's key; give the emulator the keys it "
            "accepts after its name: weaver-facade emulator --api-key KEY",
            exit_code=EXIT_USAGE,
        )
    state = CliState(
        base_url=base_url, api_key=api_key, max_retries=max_retries, as_json=as_json, quiet=quiet
    )
    ctx.obj = state
    if command != "emulator":  # a server, which SIGTERM stops as any server
        # As Ctrl-C: a model's create holds it until its reply names the model, which the
        # close terminates (a cancelled CI job's SIGTERM left it running). Entered before
        # the close is registered, so that it holds during the close too.
        ctx.with_resource(terminate_as_interrupt())
        ctx.with_resource(dropped_interrupts_unshown())
    ctx.call_on_close(state.close)


if __name__ == "__main__":  # `python -m weaver_facade.cli`, where the console script is not on PATH
    from _weaver_facade_cli import run

    run()

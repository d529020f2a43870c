"""The ``emulator`` command: ``weaver-facade emulator`` or ``python -m weaver_facade.emulator``."""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click
from click.core import ParameterSource

from .._dest import CONTROL_ESCAPES, in_the_way, shown_path, what_is_there
from .._help import Context, Folder, Seconds, WholeNumber
from ._config import (
    EmulatorConfig,
    FaultConfig,
    FaultRule,
    parse_latency,
    parse_size,
)
from ._server import listen_refusal, permission_denied, serve_forever
from ._store import DataDirInUse

__all__ = ["emulator"]

READY_MESSAGE = "weaver emulator listening on {url}"
# uvicorn's own exit status when it cannot listen, which the command's statuses do not list.
_UVICORN_STARTUP_FAILURE = 3


class _CannotStart(click.ClickException):
    """Nothing to serve with (a port in use, a data dir it cannot use), or a usage error
    (``_one_line``): one line and exit 2, the usage status, without the usage text, whichever
    way the command was run; only a usage error points to ``--help``, which says more."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        # One line whatever it quotes: a value given with a newline (`--host $'h\n'`) broke it.
        click.echo(f"error: {self.format_message().translate(CONTROL_ESCAPES)}", err=True)


class _Command(click.Command):
    """Usage errors in one line when run alone (``python -m weaver_facade.emulator``), as
    ``weaver-facade`` prints them (its group does it for ``weaver-facade emulator``), not
    click's three: the usage, a pointer to ``--help`` and the error."""

    context_class = Context

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _one_line(alone=parent is None):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line(alone=ctx.parent is None):
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line(*, alone: bool) -> Iterator[None]:
    try:
        yield
    except click.UsageError as exc:
        if not alone:
            raise
        see = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        raise _CannotStart(exc.format_message() + see) from None


def _not_blank(refusal: str) -> Callable[[click.Context, click.Parameter, str], str]:
    """An option's callback that refuses a value of spaces alone (``--host "$HOST"``, HOST
    unset) in ``refusal``'s words."""

    def check(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
        if not value.strip():
            raise click.BadParameter(f"{refusal}; got {value!r}")
        return value

    return check


# An empty host listens on every interface, its ready line naming `http://:8080`: asked
# for by no one.
_interface = _not_blank(
    "an empty host is no interface: give one, such as 127.0.0.1 (the default), "
    "or 0.0.0.0 for every interface"
)
# An empty list offered none, today's Weaver, without a word, to tests written for the
# extensions.
_offered = _not_blank(
    "an empty list names no extension: give all (the default), none for a server "
    "without any, or their names"
)


class _Size(click.ParamType[int, str]):
    """A size in bytes, ``5GB`` or ``100MiB`` as ``parse_size`` reads it, refused as the
    option's (``size '5XB'`` named neither option that takes one)."""

    name = "size"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _as_given(message: str) -> str:
    """A config's refusal, which begins with the field it refuses (``shard_size must
    be ...``, ``storage_url's host ...``), with that field named as the user gave its value:
    the option of the same name (``--shard-size``), or the variable it was read from. A
    field may also be named as its option is, in the singular (``fault 'x'``: ``--fault``)."""
    ctx = click.get_current_context()
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        given = param.opts[0]
        for field in (param.name, given.lstrip("-").replace("-", "_")):
            words = message.removeprefix(field)
            if words != message and words.startswith((" ", "'s ")):
                from_env = ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT
                if from_env and isinstance(param.envvar, str):
                    given = param.envvar
                return given + words
    return message


@click.command(
    "emulator",
    cls=_Command,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--data-dir",
    type=Folder(Path),
    metavar="DIR",
    help="Where state lives (SQLite and checkpoint files). "
    "Default: a temporary directory removed on exit.",
)
@click.option(
    "--host",
    metavar="HOST",
    default="127.0.0.1",
    show_default=True,
    callback=_interface,
    help="Interface to listen on.",
)
@click.option(
    "--port",
    type=WholeNumber(0, 65535),
    metavar="N",
    default=8080,
    show_default=True,
    help="Port to listen on; 0 picks a free one (the ready line shows it).",
)
@click.option(
    "--api-key",
    "api_keys",
    metavar="KEY",
    multiple=True,
    envvar="WEAVER_EMULATOR_API_KEYS",
    help="An accepted X-WEAVER-API-KEY; each key is a tenant. Repeatable. Without any, auth is "
    "off. Also read from WEAVER_EMULATOR_API_KEYS (space-separated), which keeps keys out of `ps`.",
)
@click.option(
    "--latency",
    "latency",
    multiple=True,
    metavar="KIND=SECONDS",
    help="Artificial work per operation kind: forward_backward, forward, optim_step, "
    "save_checkpoint, load_checkpoint, export_checkpoint, export_model_weights (spread over "
    "the export's blocks, so its progress shows). Repeatable.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    # Short words, and the unbreakable ones alone on a line (\b): click cuts a word that is
    # longer than the column it wraps into.
    help="Inject faults. SPEC is KEY=VALUE fields joined by commas, such as:\n\n"
    "\b\nkind=drop,rate=0.2,when=mid\n\n"
    "kind (unavailable, rate_limited, drop or ignore_range) and rate (0 to 1) are required; "
    "when (before, after or mid; default: before), method (such as POST), route (a path "
    "template of openapi.yaml) and retry_after (seconds; default: 1) are optional. when=mid "
    "drops a connection in the middle of the body; ignore_range answers 200 to a Range "
    "request. The route of storage URLs is:\n\n"
    "\b\n/storage/artifacts/{artifact_id}/{name}\n\n"
    "Repeatable; the first rule that fires wins.",
)
@click.option(
    "--fault-seed",
    type=WholeNumber(),
    metavar="N",
    default=0,
    show_default=True,
    help="Seed of the fault draws.",
)
@click.option(
    "--no-long-poll",
    is_flag=True,
    help="Ignore ?wait= and answer at once, like a server without the long-poll extension.",
)
@click.option(
    "--url-ttl",
    type=Seconds(min=0, min_open=True),
    metavar="SECONDS",
    default=3600.0,
    show_default=True,
    help="Seconds a signed storage URL of a download descriptor stays valid.",
)
@click.option(
    "--shard-size",
    type=_Size(),
    default="5GB",
    show_default=True,
    metavar="SIZE",
    help="An hf_model export larger than this is split into model-0000k-of-0000n.safetensors "
    "files (bytes, or with KB, MB, GB, KiB, MiB, GiB).",
)
@click.option(
    "--max-body-size",
    type=_Size(),
    default="64MiB",
    show_default=True,
    metavar="SIZE",
    help="A request body larger than this is refused with 413 payload_too_large "
    "(bytes, or with KB, MB, GB, KiB, MiB, GiB).",
)
@click.option(
    "--storage-url",
    metavar="URL",
    help="Base of storage URLs, scheme://host[:port]; default: the host the API request came to.",
)
@click.option(
    "--extensions",
    default="all",
    show_default=True,
    metavar="LIST",
    callback=_offered,
    help="The extensions of openapi.yaml to offer: all, none, or a comma-separated list of "
    "their names (idempotency-key, long-poll, cursor-paging, checkpoint-by-id, ...). "
    "Without one, the emulator behaves as a server that never had it.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option("--no-access-log", is_flag=True, help="Do not log one line per request.")
def emulator(
    data_dir: Path | None,
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    latency: tuple[str, ...],
    faults: tuple[str, ...],
    fault_seed: int,
    no_long_poll: bool,
    extensions: str,
    url_ttl: float,
    shard_size: int,
    max_body_size: int,
    storage_url: str | None,
    log_level: str,
    no_access_log: bool,
) -> None:
    """Run the local Weaver emulator, a reference server for openapi.yaml."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if any("," in key for key in api_keys):  # the keys themselves are never shown
        logging.getLogger("weaver_facade.emulator").warning(
            "an API key contains ',': WEAVER_EMULATOR_API_KEYS separates keys with spaces, "
            "so `a,b` is one key"
        )
    if data_dir is not None:
        try:
            there = in_the_way(data_dir)
        except OSError:  # a path the system cannot hold: the mkdir says so
            there = None
        if there is not None:
            what = what_is_there(there)
            raise _CannotStart(
                f"--data-dir {shown_path(data_dir)}: '{shown_path(there)}' is {what}"
            )
        try:  # here, so that a path it cannot use is one line, not the store's traceback
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _CannotStart(f"--data-dir {shown_path(data_dir)}: {exc.strerror or exc}") from exc
    _check_can_listen(host, port)
    with contextlib.ExitStack() as cleanup:
        # uvicorn re-raises the signal that stopped it. SIGTERM's default action would end
        # the process before a temporary data dir is removed, and the console script's
        # handler (a client command's, which takes it as a Ctrl-C) would exit 130. Set
        # first, undone last; the main thread's alone, and only while the command runs.
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
            if previous is not None:  # None: a handler not set from Python, left as it is
                cleanup.callback(signal.signal, signal.SIGTERM, previous)
        temp_dir = None
        if data_dir is None:
            temp_dir = tempfile.TemporaryDirectory(
                prefix="weaver-emulator-", ignore_cleanup_errors=True
            )
            data_dir = Path(cleanup.enter_context(temp_dir))
        try:
            fault_config = (
                FaultConfig(rules=tuple(FaultRule.parse(f) for f in faults), seed=fault_seed)
                if faults
                else None
            )
            config = EmulatorConfig(
                data_dir=data_dir,
                api_keys=api_keys,
                latency=parse_latency(latency),
                faults=fault_config,
                honor_long_poll=not no_long_poll,
                extensions=extensions,
                url_ttl=url_ttl,
                shard_size=shard_size,
                max_body_size=max_body_size,
                storage_url=storage_url,
            )
        except ValueError as exc:
            raise click.UsageError(_as_given(str(exc))) from exc

        def ready(url: str) -> None:
            # A server whose stdout is closed or gone (a daemon's) serves all the same.
            with contextlib.suppress(OSError, AttributeError):
                click.echo(f"weaver emulator data dir: {shown_path(config.data_dir)}")
                click.echo(READY_MESSAGE.format(url=url))
                sys.stdout.flush()

        try:
            serve_forever(config, host, port, on_ready=ready, access_log=not no_access_log)
        except DataDirInUse as exc:
            raise _CannotStart(str(exc)) from None
        except (OSError, sqlite3.Error) as exc:
            # Opening the store: a data dir the user cannot write into (or a folder where
            # one of its files goes) ended in a traceback. Nothing else of the data dir's
            # fails before the server runs, and once it runs its errors are replies.
            why = _unusable(exc, config.data_dir)
            if why is None:
                raise
            shown = shown_path(config.data_dir)
            raise _CannotStart(f"cannot use data dir {shown}: {why}") from None
        except KeyboardInterrupt:  # uvicorn re-raises the SIGINT that stopped it
            raise SystemExit(130) from None
        except SystemExit as exc:
            # The port was taken after the check (uvicorn has logged why): exit 1, not its 3.
            if exc.code == _UVICORN_STARTUP_FAILURE:
                raise SystemExit(1) from None
            raise


def _unusable(exc: OSError | sqlite3.Error, data_dir: Path) -> str | None:
    """Why the store could not open in ``data_dir``, or ``None`` for an error of another
    file (then not the data dir's)."""
    if isinstance(exc, sqlite3.Error):
        return f"its database {shown_path(data_dir / 'weaver.db')}: {exc}"
    if exc.filename is None or not Path(exc.filename).resolve().is_relative_to(data_dir.resolve()):
        return None
    return f"{shown_path(exc.filename)}: {exc.strerror or exc}"


def _check_can_listen(host: str, port: int) -> None:
    """A port in use is one usage line, not uvicorn's logged error and its exit status 3."""
    refused = listen_refusal(host, port)
    if refused is None:
        return
    if refused.errno == errno.EADDRINUSE:
        raise _CannotStart(
            f"port {port} on {host} is in use: choose another with --port, "
            "or --port 0 for a free one"
        )
    if refused.errno == errno.EACCES:
        raise _CannotStart(
            f"cannot listen on {host}:{port}: {permission_denied(port)}: "
            "choose another with --port, or --port 0 for a free one"
        )
    raise _CannotStart(f"cannot listen on {host}:{port}: {refused.strerror or refused}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)

"""What one ``weaver-facade`` invocation shares, and how its errors end the process.

Exit statuses:

* 0: success;
* 1: the server refused a request or could not be reached, an operation
  failed or did not finish in time (``APIError``, ``OperationFailedError``,
  ``OperationTimeoutError``);
* 2: a usage error, detected before any request: click's own (unknown
  option, missing argument), and the facade's ``InvalidInputError`` family
  (an invalid ``weaver://`` path, checkpoint name, model id, reference or TTL)
  or a missing server URL; and one found once a download has listed the
  checkpoint's artifacts: both kinds and no ``--kind``;
* 130: interrupted (Ctrl-C, or SIGTERM); an operation being waited for keeps running.

Each error is one line on stderr, ``error: ...``, never a traceback; with
``--json`` an ``{"error": {...}}`` object is also written to stdout.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import IO, Any, ParamSpec, TypeVar

import attrs
import click
import httpx

from .. import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    OperationFailedError,
    OperationTimeoutError,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    StorageError,
    TrainingClient,
    WeaverError,
)
from .._causes import never_reached
from .._help import EMPTY_API_KEY, EMPTY_BASE_URL, Seconds
from .._interrupt import context_set
from .._redact import ANYWHERE, Secret, replace_key, shown_url
from .._sigterm import ctrl_c_exits, interrupted
from .._watched import name_watched, seconds
from ._progress import Progress, printable, show_retries

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "NOT_SEEN",
    "CliError",
    "CliState",
    "current_state",
    "dropped_interrupts_unshown",
    "handles_errors",
    "hiding_given_secrets",
    "json_option",
    "look_again",
    "looking_again",
    "not_interrupted",
    "noted",
    "within",
]

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

P = ParamSpec("P")
R = TypeVar("R")


def _never_sent(error: APIConnectionError) -> bool:
    """Whether the request failed before it could reach the server (no connection, or
    a proxy that refused or reset it before opening its tunnel)."""
    return never_reached(error.__cause__)


def _may_have_acted(error: APIConnectionError) -> bool:
    """Whether the request that lost its reply may have changed something (not a GET)."""
    cause = error.__cause__
    try:
        method = cause.request.method if isinstance(cause, httpx.RequestError) else None
    except RuntimeError:  # an httpx error made without its request
        method = None
    return method not in ("GET", "HEAD")  # unknown: assume the worst


def _as_argued(exc: InvalidInputError) -> str:
    """``exc``'s words (the command line's, where they name library calls), with the
    library's name of a parameter they begin with (``model_id``) as the usage line names the
    command's argument that gave it (``MODEL_ID``)."""
    message = _said(exc)
    context = click.get_current_context(silent=True)
    for param in context.command.params if context is not None else ():
        if isinstance(param, click.Argument) and param.name:
            words = message.removeprefix(f"{param.name} ")
            if words != message:
                return f"{param.human_readable_name} {words}"
    return message


def _cli_words(exc: BaseException) -> dict[str, str]:
    """The command line's words of ``exc``'s text and notes that name library calls, by
    text (the library's ``cli_notes``, as a log record's ``cli_message``)."""
    words = getattr(exc, "cli_notes", None)
    return words if isinstance(words, dict) else {}


def _said(exc: BaseException) -> str:
    """``exc``'s text, in the command line's words when it names library calls."""
    return _cli_words(exc).get(str(exc), str(exc))


def cli_notes(exc: BaseException) -> list[str]:
    """``exc``'s notes that name library calls, in the command line's words."""
    return [cli for note, cli in _cli_words(exc).items() if note != str(exc)]


def noted(exc: BaseException) -> str | None:
    """``exc``'s text and its notes (``add_note``), which the one-line error leaves out, or
    ``None`` without any: the library's words for what a refusal may mean (the command
    line's, for a text or a note that names library calls)."""
    notes = getattr(exc, "__notes__", None)
    words = _cli_words(exc)
    return "; ".join([_said(exc), *(words.get(n, n) for n in notes)]) if notes else None


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


# The words of the running command line and its flags (``hiding_given_secrets``).
_GIVEN_SECRETS: contextvars.ContextVar[
    tuple[Sequence[str], Callable[[], AbstractSet[str]]] | None
] = contextvars.ContextVar("weaver_facade_given_secrets", default=None)


def _secrets_in(words: Sequence[str], flags: AbstractSet[str] = frozenset()) -> list[str]:
    """The word after each ``--api-key`` (or its ``=`` value), and the user info of the
    word after each ``--base-url``, longest first.

    The user info whole: an error quotes the word it is in whole, and the client hides
    either half of what a server echoes. A half alone, short, hid the command's own words
    where it stands alone (the user name ``weaver`` in ``weaver://``).

    A short one (hidden alone, by the rule of ``_redact``) only where the option's name may
    have been taken for another word: after an option's name but one of ``flags`` (which
    take no value), or after ``--``. Else it is the
    option's value, which no error quotes (the URL's is shown as ``***@``), and hidden it
    made every word of an error that is the key ``***`` (``is not *** 'weaver://...' path``
    for the key ``a``). A server's echo of the key the client sent is its client's to hide."""
    found: list[str] = []
    for i, word in enumerate(words):
        name, equals, value = word.partition("=")
        if not equals:
            name, value = word, words[i + 1] if i + 1 < len(words) else ""
        if value.startswith("--"):  # an option's name, taken for the value: no secret
            continue
        before = words[:i]
        last = before[-1] if before else ""
        taken = "--" in before or (last[:1] == "-" and "=" not in last and last not in flags)
        if name == "--api-key":
            secret = value
        elif name == "--base-url":
            # By hand: urlsplit refuses some (`http://[::1`), which a message may quote.
            secret = re.split(r"[/?#]", value.partition("://")[2])[0].rpartition("@")[0]
        else:
            continue
        if len(secret) >= ANYWHERE or taken:
            found.append(secret)
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


@contextlib.contextmanager
def hiding_given_secrets(
    words: Sequence[str], flags: Callable[[], AbstractSet[str]] = frozenset
) -> Iterator[None]:
    """Have the errors of a command line of ``words`` show its key and its base URL's user
    info as ``***``: an option whose value was left out took the next option's name for it
    (``--base-url $UNSET --api-key KEY``), and its value, the key, became a command's name or
    argument, which a usage error names (``No such command 'KEY'``). ``flags`` (for
    ``_secrets_in``) is asked as an error is shown: of the commands loaded by then, which
    read the words."""
    with context_set(_GIVEN_SECRETS, (tuple(words), flags)):
        yield


def _hidden(text: str) -> str:
    given = _GIVEN_SECRETS.get()
    for secret in _secrets_in(given[0], given[1]()) if given else ():
        text = replace_key(text, secret, "***")  # by the facade's rule: a short one where alone
    return text


class CliError(click.ClickException):
    """Ends the command: ``error: <message>`` on stderr, and JSON on stdout with ``--json``;
    the secrets among the command line's words hidden (``hiding_given_secrets``)."""

    def __init__(
        self, message: str, *, exit_code: int, payload: dict[str, Any] | None = None
    ) -> None:
        super().__init__(_one_line(message))
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class
        #: Written to stdout as ``{"error": payload}`` (only set in --json mode).
        self.payload = payload

    def show(self, file: IO[Any] | None = None) -> None:
        ctrl_c_exits()  # not before: a Ctrl-C once the close is over would lose this line
        try:
            if self.payload is not None:
                payload = {k: _hidden(v) if k == "message" else v for k, v in self.payload.items()}
                click.echo(json.dumps({"error": payload}, indent=2))
        finally:  # also when stdout cannot take the document (`>&-`): said after this line
            click.echo(f"error: {printable(_hidden(self.format_message()))}", err=True)


class _Retries(RetryPolicy):
    """The facade's retry rules, noting whether a call's deadline, not its retries running
    out, stopped the last one: a wait whose first look the server kept refusing (503) until
    then is a timeout, as any later poll's would be.

    Under a deadline (``--timeout``) that deadline alone bounds the sleeps, as it bounds a
    wait's polls: ``max_retry_wait`` (30 s) and ``max_retry_after`` (60 s) are the limits
    of a call without one (the README's "a deadline per call")."""

    def __init__(self, max_retries: int) -> None:
        super().__init__(RetrySettings(max_retries=max_retries))
        self.deadline_stopped = False
        unlimited = attrs.evolve(self.settings, max_retry_wait=math.inf, max_retry_after=math.inf)
        self._within_deadline = RetryPolicy(unlimited, rng=lambda: self._rng())

    def retry_delay(
        self,
        request: httpx.Request,
        outcome: httpx.Response | Exception,
        attempt: int,
        *,
        slept: float = 0.0,
        remaining: float | None = None,
    ) -> float | None:
        if remaining is None:
            self.deadline_stopped = False
            return super().retry_delay(request, outcome, attempt, slept=slept)
        delay = self._within_deadline.retry_delay(request, outcome, attempt)
        # The facade's rule: no retry whose sleep would reach the deadline.
        self.deadline_stopped = delay is not None and delay >= remaining
        return None if self.deadline_stopped else delay


class CliState:
    """The global options and the lazily made ``ServiceClient`` of one invocation."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = 4,
        as_json: bool = False,
        quiet: bool = False,
    ) -> None:
        # Held hidden: vars(), rich.inspect and a debugger show them as the repr does.
        self._base_url = _url_secret(base_url)
        self._api_key = None if api_key is None else Secret(api_key)
        self.max_retries = max_retries
        self.as_json = as_json
        self.progress = Progress(quiet=quiet)
        self._service: ServiceClient | None = None
        self._retries: _Retries | None = None
        #: When the command began to wait (``waiting()``): a timeout names the time since.
        self._waiting_since: float | None = None
        self._timeout: float | None = None  # its --timeout
        self._unshow_retries = show_retries(quiet=quiet)

    def __repr__(self) -> str:
        # A traceback's locals (rich, pytest -l) show it: the base URL's user info hidden.
        return f"CliState(base_url={self._base_url!r}, as_json={self.as_json!r})"

    @property
    def base_url(self) -> Secret | None:
        """The server of ``--base-url`` or ``WEAVER_BASE_URL`` (its user info hidden)."""
        return self._base_url

    @property
    def api_key(self) -> Secret | None:
        """The key of ``--api-key`` or ``WEAVER_API_KEY`` (hidden)."""
        return self._api_key

    @property
    def quiet(self) -> bool:
        """``-q``: nothing on stderr but errors (and the log ``WEAVER_LOG`` asks for)."""
        return self.progress.quiet

    def set_global(self, name: str, value: Any) -> None:
        """Apply a global option given after a subcommand's name (it wins over one before)."""
        if name == "api_key":
            self._api_key = Secret(value)
        elif name == "base_url":
            self._base_url = _url_secret(value)
        elif name == "quiet":
            self.progress.quiet = bool(value)
            self._unshow_retries()
            self._unshow_retries = show_retries(quiet=self.progress.quiet)
        elif name in ("max_retries", "as_json"):
            setattr(self, name, value)
        else:
            raise ValueError(f"not a global option: {name}")

    def service(self) -> ServiceClient:
        """The connection to the server, made on first use (``--help`` needs none)."""
        if self._service is None:
            url = None if self._base_url is None else self._base_url.reveal()
            key = None if self._api_key is None else self._api_key.reveal()
            from_env = os.environ.get("WEAVER_BASE_URL")
            typed = url is not None and url != from_env  # --base-url
            if typed and not str(url).strip():  # `--base-url "$UNSET"`
                raise InvalidArgumentError(EMPTY_BASE_URL)
            # `--api-key "$UNSET"` overrode WEAVER_API_KEY with no key; its 401 said to set it.
            typed_key = key is not None and key != os.environ.get("WEAVER_API_KEY")
            if typed_key and not str(key).strip():
                raise InvalidArgumentError(EMPTY_API_KEY)
            if not (url or from_env or "").strip():
                raise InvalidArgumentError(
                    "no Weaver server given: pass --base-url URL or set WEAVER_BASE_URL "
                    "(the server root, such as http://127.0.0.1:8080)"
                )
            self._retries = _Retries(self.max_retries)
            try:
                self._service = ServiceClient(
                    url,
                    key,
                    retry=self._retries,
                    heartbeat_interval=0,  # the CLI never opens a session
                )
            except InvalidArgumentError as exc:
                # The library's words, with its parameter's name as the user gave the value;
                # click fills each option from the environment: the same value came from there.
                for prefix, option, variable, value in (
                    ("base_url", "--base-url", "WEAVER_BASE_URL", url),
                    ("api_key (or WEAVER_API_KEY)", "--api-key", "WEAVER_API_KEY", key),
                ):
                    words = str(exc).removeprefix(prefix)
                    if words != str(exc):
                        given = variable if value == os.environ.get(variable) else option
                        raise InvalidArgumentError(given + words) from None
                raise
        return self._service

    def deadline_stopped(self) -> bool:
        """Whether the deadline (``waiting()``), not ``--max-retries``, ended the retries of
        the last request that failed."""
        return self._retries is not None and self._retries.deadline_stopped

    def waiting(self, timeout: float | None) -> tuple[ServiceClient, Callable[[], float | None]]:
        """The service for a command that waits up to ``timeout`` seconds in all, and the
        time left: every request it sends, retries included, ends by then too."""
        service = self.service()
        self._waiting_since, self._timeout = time.monotonic(), timeout
        if timeout is None:
            return service, lambda: None
        end = self._waiting_since + timeout

        def left() -> float:
            return max(0.0, end - time.monotonic())

        return within(service, left), left

    @property
    def timeout(self) -> float | None:
        """The ``timeout`` given to ``waiting()``."""
        return self._timeout

    def waited(self) -> float | None:
        """Seconds since ``waiting()`` was called, ``None`` before."""
        since = self._waiting_since
        return None if since is None else time.monotonic() - since

    def close(self) -> None:
        """Stop any spinner and close the connection."""
        self.progress.stop()
        try:
            if self._service is not None:
                self._service.close()
                self._service = None
        finally:
            # After the close, whose WARNINGs (a model it could not terminate) need the
            # command's words, and under -q the models it leaves running.
            self._unshow_retries()

    def error_payload(
        self, exc: BaseException, exit_code: int, message: str | None = None
    ) -> dict[str, Any] | None:
        """``error_payload(...)`` with ``--json``, ``None`` without."""
        return error_payload(exc, exit_code, message) if self.as_json else None

    def failure(self, exc: BaseException, exit_code: int, message: str | None = None) -> CliError:
        """The ``CliError`` that ends the command for ``exc``: ``message`` (by default the
        exception's text), and its JSON form with ``--json``."""
        return CliError(
            str(exc) if message is None else message,
            exit_code=exit_code,
            payload=self.error_payload(exc, exit_code, message),
        )


def _url_secret(url: str | None) -> Secret | None:
    """``url`` hidden, shown as its repr without its user info."""
    if url is None:
        return None
    try:
        shown = shown_url(url)
    except httpx.InvalidURL:
        shown = "<a base URL httpx cannot read>"
    return Secret(url, shown=repr(shown))


def error_payload(exc: BaseException, exit_code: int, message: str | None = None) -> dict[str, Any]:
    """The ``--json`` form of an error; stable keys.

    ``message`` is the error line's text, when it is not ``str(exc)``.
    """
    # A wait that timed out says what its last poll was asked, as the message does.
    asked = exc.last_error if isinstance(exc, OperationTimeoutError) else exc
    return {
        "type": type(exc).__name__,
        "message": _one_line(str(exc) if message is None else message),
        "code": getattr(exc, "code", None),
        "status_code": exc.status_code if isinstance(exc, APIError | StorageError) else None,
        "request_id": exc.request_id if isinstance(exc, APIError) else None,
        "retry_after": asked.retry_after if isinstance(asked, APIError) else None,
        "operation_id": getattr(exc, "operation_id", None),
        "exit_code": exit_code,
    }


C = TypeVar("C", ServiceClient, TrainingClient)


def as_timeout(remaining: float | None) -> float | None:
    """The time a command's ``--timeout`` leaves (or ``None``), as a call's timeout: a
    positive one, so that at the deadline one quick attempt is made."""
    return None if remaining is None else max(remaining, 0.1)


def within(client: C, left: Callable[[], float | None]) -> C:
    """``client`` for a command's next request under ``--timeout``: that request, retries
    included, ends by the command's deadline (``left()`` is the time left, or ``None``)."""
    remaining = as_timeout(left())
    return client if remaining is None else client.with_options(timeout=remaining)


def current_state() -> CliState:
    """The state of the running invocation (made by the top-level group)."""
    return click.get_current_context().ensure_object(CliState)


def _set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliState).as_json = True


def json_option(f: Callable[P, R]) -> Callable[P, R]:
    """Add ``--json``: print machine-readable JSON with stable keys instead of tables."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_json,
        help="Print JSON (stable keys) instead of a table.",
    )(f)


FC = TypeVar("FC", bound=Callable[..., Any])


def timeout_option(help: str) -> Callable[[FC], FC]:
    """Add ``--timeout SECONDS``: a number > 0 (0, which would send the request and give
    up at once, is a usage error), finite and at most a year, as the contract kit's
    (``Seconds``); without it, the command's default, which ``help`` names (an hour for a
    wait, none for a download)."""
    seconds = Seconds(min=0, min_open=True)
    return click.option("--timeout", type=seconds, metavar="SECONDS", help=help)


def look_again(operation_id: str) -> str:
    """The command that picks an operation up again. Without an operation id, which
    `operations wait` needs, a recovered save is known by its checkpoint's path, and an
    export answered with its artifact by the artifact's uri."""
    checkpoint, artifacts, _ = operation_id.partition("/artifacts/")
    if artifacts:
        return f"weaver-facade checkpoints artifacts {checkpoint}"
    if operation_id.startswith("weaver://"):
        return f"weaver-facade checkpoints show {operation_id}"
    return f"weaver-facade operations wait {operation_id}"


def looking_again(operation_id: str, waiting: str) -> str:
    """What ``look_again``'s command does: ``waiting``, or only ``look at it again`` for a
    save or an export known by its resource, which has no operation to wait for."""
    return "look at it again" if operation_id.startswith("weaver://") else waiting


#: The status of an operation whose first look got no answer before the deadline.
NOT_SEEN = "not seen"


def _timeout_message(exc: OperationTimeoutError, state: CliState) -> str:
    # The command's time, its requests included (--timeout bounds them all), not the watch's.
    since = state.waited()
    waited = seconds(exc.waited if since is None else since)
    said = []
    if state.timeout is not None and since is not None and since > 2 * state.timeout:
        said.append(f"--timeout {state.timeout:g} s")  # shorter than one look takes
    if exc.last_error is not None:
        said.append(f"the last poll failed: {exc.poll_error or exc.last_error}")
    cause = f" ({'; '.join(said)})" if said else ""
    if isinstance(exc.last_error, APIError) and exc.last_error.retry_after is not None:
        cause += f"; the server asks to try again in {exc.last_error.retry_after:g} s"
    how = looking_again(exc.operation_id, "wait again")
    seen = exc.status != NOT_SEEN
    status = f"still {exc.status}" if seen else exc.status
    keeps = "it keeps running on the server: " if seen else ""
    if exc.result_pending:
        status = "is done, but its checkpoint still says pending"
        keeps = "it may yet be completed on the server: "
    return (
        f"{name_watched(exc.operation_id)} {status} after {waited} s{cause}; "
        f"{keeps}{how} with `{look_again(exc.operation_id)}`"
    )


def _keeps_running(operation_id: str, state: CliState) -> str:
    """The note on the operation a command waited for, which its end leaves running; one
    never seen (`operations wait`'s first look failed) may not exist."""
    keeps = "keeps running on the server"
    if state.progress.last_status is None:
        keeps = "was not seen; if the server has it, it keeps running there"
    return f"; {name_watched(operation_id)} {keeps} (`{look_again(operation_id)}`)"


def _interrupted(exc: KeyboardInterrupt, state: CliState) -> CliError:
    """The error that ends a command a Ctrl-C (or SIGTERM) interrupted."""
    op = state.progress.last_operation_id
    # A create's note in the command line's words ("interrupted while the request to create
    # a model was on its way: ..."), naming the model it may have made.
    message = "; ".join(cli_notes(exc)) or "interrupted"
    ended = state.progress.last_status is not None and state.progress.last_status.is_terminal
    if op is not None and not ended:  # a wait that ended leaves nothing running
        message += _keeps_running(op, state)
    payload = state.error_payload(exc, EXIT_INTERRUPTED, message)
    if payload is not None:
        payload["operation_id"] = op
    return CliError(message, exit_code=EXIT_INTERRUPTED, payload=payload)


def handles_errors(f: Callable[P, R]) -> Callable[P, R]:
    """Turn the facade's exceptions into one-line errors and exit statuses."""

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        state = current_state()
        try:
            return f(*args, **kwargs)
        except InvalidInputError as exc:
            raise state.failure(exc, EXIT_USAGE, _as_argued(exc)) from None
        except OperationTimeoutError as exc:
            message = _timeout_message(exc, state)
            raise state.failure(exc, EXIT_API_ERROR, message) from None
        except (APIError, OperationFailedError, WeaverError) as exc:
            # With the notes the library gave the command line's words for (a create's, of a
            # model it may have made); the others may name library calls.
            message = "; ".join([_said(exc), *cli_notes(exc)])
            # Not "cannot reach" after an earlier attempt that may have made a model (its
            # note says so), whatever the last attempt met.
            if isinstance(exc, APIConnectionError) and _never_sent(exc) and not cli_notes(exc):
                message = f"cannot reach {state.service().base_url}: {message}"
            elif isinstance(exc, APIConnectionError):  # it was reached; its reply is lost
                what = "no reply in time" if isinstance(exc, APITimeoutError) else "lost the reply"
                acted = " (the server may have acted)" if _may_have_acted(exc) else ""
                message = f"{what} from {state.service().base_url}{acted}: {message}"
            elif isinstance(exc, AuthenticationError) and (
                state.api_key is None or not state.api_key.reveal().strip()
            ):
                message += "; no API key was given: set WEAVER_API_KEY or pass --api-key"
            if isinstance(exc, APIError) and exc.retry_after is not None:
                message += f"; the server asks to try again in {exc.retry_after:g} s"
            op = state.progress.last_operation_id
            waited = state.waited()
            # The command's time: its --timeout may have cut the request, not the server.
            timed_out = isinstance(exc, APITimeoutError)
            if waited is not None and (timed_out or (isinstance(exc, APIConnectionError) and op)):
                message += f" (after {seconds(waited)} s)"
            if isinstance(exc, APIConnectionError) and op is not None:
                message += _keeps_running(op, state)
            elif isinstance(exc, APIError) and not isinstance(exc, NotFoundError) and op:
                # A poll refused (a 500, a revoked key) ends the wait, not the operation.
                status = state.progress.last_status
                if status is not None and not status.is_terminal:
                    message += (
                        f"; {name_watched(op)} was last seen {status.value} and may still be "
                        f"running (`{look_again(op)}`)"
                    )
            failure = state.failure(exc, EXIT_API_ERROR, message)
            if failure.payload is not None and op is not None:
                failure.payload["operation_id"] = failure.payload["operation_id"] or op
            raise failure from None
        except KeyboardInterrupt as exc:
            while True:  # another Ctrl-C as its line is built: the same line, built again
                try:
                    failure = _interrupted(exc, state)
                    break
                except KeyboardInterrupt:
                    pass
            raise failure from None
        finally:
            state.progress.stop()

    return wrapper


def not_interrupted() -> None:
    """Raise the ``KeyboardInterrupt`` of a Ctrl-C (or SIGTERM) that Python dropped, before
    a command prints its result: it ends as interrupted, as the kit's run does."""
    if interrupted():
        raise KeyboardInterrupt


@contextlib.contextmanager
def dropped_interrupts_unshown() -> Iterator[None]:
    """Within a command, a Ctrl-C that Python dropped (raised in a weakref callback, such as
    an import's module lock's) is not printed as its traceback ("Exception ignored in"):
    ``_sigterm`` noted it, and the command ends as interrupted, in one line."""
    shown = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not (issubclass(unraisable.exc_type, KeyboardInterrupt) and interrupted()):
            shown(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = shown
    # Reached on a success alone (click closes the context before it exits 0): one dropped
    # after the command's output was printed, or in the close, ends it as interrupted.
    if interrupted():
        raise CliError("interrupted", exit_code=EXIT_INTERRUPTED)

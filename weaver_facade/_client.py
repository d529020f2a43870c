"""``ServiceClient`` and ``AsyncServiceClient``: the entry points of a training script.

They hold the connection settings (from the arguments, else ``WEAVER_BASE_URL``
and ``WEAVER_API_KEY``), open a session lazily (on the first model created) and
keep it alive with a heartbeat (a daemon thread for the sync client, an asyncio
task for the async one) until closed. They make ``TrainingClient``s and
re-attach to operations by id.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import threading
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Literal, NoReturn, Self, TypedDict, TypeVar, Unpack, overload

import attrs
import httpx
from weaver_client import limits
from weaver_client.client import Client

from . import _calls as calls
from . import _lookup as lookup
from ._args import (
    check_api_key,
    check_bool,
    check_callable,
    check_choice,
    check_id,
    check_int,
    check_keywords,
    check_seconds,
    check_type,
)
from ._artifacts import (
    Artifact,
    DownloadDeadline,
    DownloadResult,
    DownloadTarget,
    download_arguments,
    download_descriptor,
    download_plan,
    download_result,
    list_artifacts_plan,
)
from ._causes import bad_host
from ._checkpoints import CheckpointRef
from ._download import (
    DownloadProgress,
    DownloadSettings,
    download_async,
    download_sync,
)
from ._errors import (
    APIError,
    APITimeoutError,
    ClientClosedError,
    EventLoopError,
    InvalidArgumentError,
    NotFoundError,
    OperationTimeoutError,
    ResponseValidationError,
    add_goes_on_note,
    carry_notes,
    goes_on,
    running_loop,
)
from ._interrupt import interrupt_held
from ._io import AsyncIO, HandleParts, HasOptions, SyncIO, Wakeup
from ._lazy import asyncio, in_own_thread, loaded_off_loop, wire
from ._logs import configure_logging, give_cli_words, logger, warn_naming_calls
from ._models import (
    DEFAULT_LORA_RANK,
    DEFAULT_PAGE_SIZE,
    BaseModelInfo,
    CreatedModels,
    LoraSettings,
    ModelInfo,
    NewModel,
    base_model_pager,
    check_base_model,
    how_to_end,
    model_info_from_wire,
    model_listing,
    model_pager,
    model_plan,
    models_left,
    terminate_plan,
)
from ._operations import (
    AsyncOperationHandle,
    OperationHandle,
    PollPolicy,
    PollSettings,
    ProgressCallback,
)
from ._plans import Call, Exclusive, Plan, adrive, drive
from ._redact import API_KEY_HEADER, Secret, basic, shown_url
from ._resume import ResumePlan, ResumeStep, resume_plan
from ._retry import CallOptions
from ._steps import StepsByModel
from ._training import (
    AsyncTrainingClient,
    OperationResult,
    TrainingClient,
    check_result_type,
    reattach,
)
from ._transport import (
    AsyncClientTransport,
    AsyncRetryTransport,
    ClientTransport,
    RetryPolicy,
    RetrySettings,
    RetryTransport,
    own_async_transport,
    own_transport,
)
from ._version import USER_AGENT
from ._watched import seconds
from ._wire import Delivery, EarlierAttempt, expect

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = RetrySettings().max_retries
_DOWNLOAD = DownloadSettings()
HEARTBEAT_INTERVAL = 30.0
CLOSE_TIMEOUT = 60.0
# How often a close handed to its client's loop in another thread looks whether that loop
# stopped (before the close began there, or during it): no event tells.
_LOOP_WATCH = 0.05
# A heartbeat is one attempt: the next beat is its retry, and one abandoned by close()
# ends with that attempt.
ONE_BEAT = CallOptions(max_retries=0)


def _base_url(base_url: object) -> str:
    url = base_url if base_url is not None else os.environ.get("WEAVER_BASE_URL", "")
    if not isinstance(url, str):
        _refuse_base_url(
            f"base_url must be a str, such as 'http://127.0.0.1:8080', or None for "
            f"WEAVER_BASE_URL; got {url!r}"
        )
    url = url.strip()
    name = "base_url" if base_url is not None else "WEAVER_BASE_URL"  # as the user gave it
    if not url:
        _refuse_base_url(
            "no Weaver server given: pass base_url= or set WEAVER_BASE_URL "
            "(the server root, such as http://127.0.0.1:8080)"
        )
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        url = f"{scheme.lower()}://{rest}"  # schemes are case-insensitive (RFC 3986)
    if not url.startswith(("http://", "https://")):
        # httpx may not parse it: the user info runs to the last "@" (a password may hold
        # "/" or "@"), and the scheme may be missing ("user:password@host", "TOKEN@host").
        shown = re.sub(r"^((?:[^:/]*://)?).*@", r"\1***@", url)
        _refuse_base_url(f"{name} must start with http:// or https://, got {shown!r}")
    url = url.rstrip("/")  # after the scheme's check, which "http://" passes
    if url.endswith("/api/v1"):
        _refuse_base_url(
            f"{name} is the server root; drop the trailing '/api/v1' from {shown_url(url)!r}"
        )
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:  # not echoed: the URL may hold a password
        # httpx quotes the part it could not read: of "http://user:pass/word@host",
        # "pass" as a port.
        detail = "; not shown, since it may hold a password" if "@" in url else f": {exc}"
        _refuse_base_url(f"{name} is not a valid URL{detail}")
    if problem := bad_host(parsed):
        _refuse_base_url(f"{name}'s {problem}")
    if not parsed.raw_host:
        _refuse_base_url(f"{name} names no host, such as http://127.0.0.1:8080")
    if parsed.port is not None and not 0 < parsed.port < 2**16:
        _refuse_base_url(f"{name}'s port {parsed.port} is not in 1..65535")
    if parsed.query or parsed.fragment:
        _refuse_base_url(f"{name} is the server root; it takes no query or fragment")
    return url


def _api_key(api_key: object) -> str | None:
    """The key to send: ``api_key``, else ``WEAVER_API_KEY``; read in a frame of its own,
    since a traceback's locals (``pytest --showlocals``) show those of ``__init__``."""
    return (
        check_api_key(api_key if api_key is not None else os.environ.get("WEAVER_API_KEY", ""))
        or None
    )


def _credentials(base_url: object, api_key: object) -> tuple[Secret, Secret | None]:
    """The base URL (whose user info may be a password) and the key, checked, as
    ``Secret``s. The clients' ``__init__`` then drops its arguments: a traceback's locals
    (``pytest -l``, rich, ``unittest --locals``) show those of its frames."""
    url, key = _base_url(base_url), _api_key(api_key)
    return Secret(url, shown=repr(shown_url(url))), None if key is None else Secret(key)


def _refuse_base_url(message: str) -> NoReturn:
    """Raised from a frame without the URL, which may hold a password: pytest's default
    traceback shows the arguments of the frame that raised (``base_url = '...'``), as
    ``check_api_key`` does for a key."""
    raise InvalidArgumentError(message) from None


def _timeout(timeout: object) -> httpx.Timeout:
    """Seconds, or an ``httpx.Timeout`` whose every part is seconds or ``None``."""
    if isinstance(timeout, httpx.Timeout):
        # Rebuilt of the checked seconds: a socket refuses numpy's float32 as a timeout.
        parts = {
            part: None
            if seconds is None
            else check_seconds(f"timeout's {part}", seconds, finite=True, otherwise=", or None")
            for part, seconds in timeout.as_dict().items()
        }
        return httpx.Timeout(**parts)
    either = ", or an httpx.Timeout (httpx.Timeout(None) for none)"
    return httpx.Timeout(check_seconds("timeout", timeout, finite=True, otherwise=either))


def _session_fields(tags: object, user_metadata: object) -> tuple[list[str], dict[str, str]]:
    if (
        isinstance(tags, str | bytes)
        or not isinstance(tags, Sequence)
        or not all(isinstance(tag, str) for tag in tags)
    ):
        raise InvalidArgumentError(
            f"tags must be a sequence of str, such as ['run-1']; got {tags!r}"
        )
    metadata = {} if user_metadata is None else user_metadata
    if not isinstance(metadata, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise InvalidArgumentError(
            f"user_metadata must be a mapping of str to str, or None; got {user_metadata!r}"
        )
    return list(tags), dict(metadata)


class _Credentials(httpx.Auth):
    """The key's header, and the base URL's user info as Basic credentials, added to each
    request as it is sent. Given to the generated client (its ``token``) or to httpx, they
    stayed in their attributes and headers (whose repr hides ``Authorization`` alone),
    which ``vars()``, a debugger or ``rich.inspect`` show."""

    def __init__(self, base_url: Secret, key: Secret | None) -> None:
        self._key = key
        authorization = basic(httpx.URL(base_url.reveal()))
        self._basic = None if authorization is None else Secret(authorization)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._key is not None:
            request.headers[API_KEY_HEADER] = self._key.reveal()
        if self._basic is not None:
            request.headers["Authorization"] = self._basic.reveal()
        yield request


class ClientOptions(TypedDict, total=False):
    """The keyword options ``ServiceClient`` and ``AsyncServiceClient`` share.

    Attributes:
        timeout: Per-request HTTP timeout in seconds (or an ``httpx.Timeout``);
            long-polls get their wait added to the read timeout. Default 60 s
            (5 s to connect); ``httpx.Timeout(None)`` for none.
        max_retries: Retries of a failed HTTP request (see ``RetryTransport``); default 4.
            It raises a download's retries of a file from storage (``DownloadSettings``)
            when larger.
        poll: How operations are waited for (``PollSettings``, or a
            ``PollPolicy`` with its own clock).
        retry: A ``RetryPolicy`` overriding ``max_retries``.
        tags: Session tags.
        user_metadata: Session metadata.
        heartbeat_interval: Seconds between session heartbeats (0 disables them);
            default 30. A failed heartbeat is logged, not retried: the next one is.
        on_progress: Called with every status change of every operation of
            this client (for progress displays), the first as the call that starts
            it gets the reply, in the thread or task that starts or waits for the
            operation: for an ``AsyncServiceClient`` on its event loop (a slow one
            holds the loop), for a ``ServiceClient`` in each thread that waits, so
            calls may overlap. Each ``OperationProgress`` names its operation. An
            exception it raises ends that call or wait, with a note naming the
            operation, which runs on.
        terminate_models_on_close: Terminate the models this client created when it
            closes (default), so that they stop holding training resources; their
            checkpoints stay. ``False`` keeps them all;
            ``create_training_client(..., keep=True)`` keeps one (but not the model of a
            create interrupted by Ctrl-C or cancelled, which its caller never got).
            Models attached with ``training_client(model_id)`` are never terminated.
    """

    timeout: float | httpx.Timeout
    max_retries: int
    poll: PollSettings | PollPolicy | None
    retry: RetryPolicy | None
    tags: Sequence[str]
    user_metadata: Mapping[str, str] | None
    heartbeat_interval: float
    on_progress: ProgressCallback | None
    terminate_models_on_close: bool


_KEYWORDS = ("base_url", "api_key", "http_client", "sleep", *ClientOptions.__annotations__)
"""The keyword arguments of both service clients, for a mistyped one's error."""


def _operation_id(value: object) -> str:
    """``value`` as an operation id; the ``weaver://`` id of a handle that watched a save
    or an export without an operation is refused saying where to look instead."""
    if isinstance(value, str) and value.startswith("weaver://"):
        checkpoint, artifacts, _ = value.partition("/artifacts/")
        look = f"service.list_artifacts({checkpoint!r})" if artifacts else None
        refused = InvalidArgumentError(
            f"operation_id {value!r} names {'an artifact' if artifacts else 'a checkpoint'}, "
            "not an operation (a save or an export answered without one is known by what it "
            f"makes): look at it again with {look or f'trainer.get_checkpoint({value!r})'}"
        )
        give_cli_words(refused)
        raise refused
    return check_id("operation_id", value)


class _ServiceBase(HasOptions):
    """The I/O-free half of both service clients: settings, counters, plans."""

    _lock: Any  # the shell's kind: held while the session opens or is renewed

    def __init__(
        self,
        base_url: Secret,
        api_key: Secret | None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        poll: PollSettings | PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        tags: Sequence[str] = (),
        user_metadata: Mapping[str, str] | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        on_progress: ProgressCallback | None = None,
        terminate_models_on_close: bool = True,
    ) -> None:
        configure_logging()
        self._base_url, self._api_key = base_url, api_key
        self._timeout = _timeout(timeout)
        check_type("retry", retry, (RetryPolicy, type(None)), "a RetryPolicy, or None")
        self._retry = retry or RetryPolicy(
            RetrySettings(max_retries=check_int("max_retries", max_retries, 0))
        )
        check_type(
            "poll",
            poll,
            (PollSettings, PollPolicy, type(None)),
            "a PollSettings, a PollPolicy or None",
        )
        self._poll = poll if isinstance(poll, PollPolicy) else PollPolicy(poll)
        self._tags, self._user_metadata = _session_fields(tags, user_metadata)
        self._heartbeat_interval = check_seconds(
            "heartbeat_interval",
            heartbeat_interval,
            zero=True,
            finite=True,
            otherwise=" (0: no heartbeats)",
        )
        check_callable("on_progress", on_progress)
        self._on_progress = on_progress
        self._model_seq = itertools.count(1)
        self._session: _Session | None = None  # opened by the first create
        self._created = CreatedModels(terminate_on_close=terminate_models_on_close)
        self._steps = StepsByModel()  # one counter per model, whichever client trains it
        # The client that owns the session and connections; with_options() copies share it.
        self._root: Self = self  # type: ignore[assignment]  # mypy: self is Self here

    def _entered(self) -> Self:
        """``self`` for ``with`` (``async with``): a closed client refuses at once, as its
        calls would."""
        self._io.check_open()
        return self

    @property
    def _server(self) -> str:
        """The base URL without its user info, for what needs no credentials (the frames a
        traceback shows hold what they are given)."""
        return str(httpx.URL(self._base_url.reveal()).copy_with(username=None, password=None))

    @property
    def base_url(self) -> str:
        """The server root requests go to; its user info (``user:password@``) is ``***@``."""
        return shown_url(self._base_url.reveal())

    @property
    def session_id(self) -> str | None:
        """The session's id, once a model has been created (sessions open lazily)."""
        session = self._root._session
        return None if session is None else session.id

    def __repr__(self) -> str:
        if not hasattr(self, "_io"):  # refused while being made: a traceback's locals show it
            return f"{type(self).__name__}(<not set up>)"
        key = "set" if self._api_key else "none"
        closed = ", closed=True" if self._io.closed else ""
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>, "
            f"session_id={self.session_id!r}{closed})"
        )

    def _generated(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> Client:
        # Our transport, not an httpx client: set_httpx_client drops these (DEVELOPERS.md).
        return Client(
            base_url=self._server,
            headers={"User-Agent": USER_AGENT},
            timeout=self._timeout,
            httpx_args={
                "transport": transport,
                "auth": _Credentials(self._base_url, self._api_key),
            },
        )

    def _close_within(self) -> float:
        """The one deadline of the terminates on close, retries included: the client's
        read timeout (60 s by default, and without one), not retries times timeout."""
        return self._timeout.read or CLOSE_TIMEOUT

    @contextlib.contextmanager
    def _resuming(
        self, checkpoint: object, with_optimizer: object, keep: object, base_model: object
    ) -> Iterator[tuple[ResumePlan, list[str]]]:
        """``create_training_client_from_state``'s plan, and the ids of the models it made,
        which a failure leaves unclaimed (its caller never got them)."""
        check_bool("keep", keep)
        plan = resume_plan(
            checkpoint,
            with_optimizer,
            self._created.settings,
            base_model,
            self._io.poll,
            self._steps.deleted,
        )
        made: list[str] = []
        try:
            yield plan, made
        except BaseException as exc:
            self._created.unclaimed(
                made, "create_training_client_from_state: the load into the new model did not end"
            )
            # A load that timed out, or whose wait a cancel or a Ctrl-C ended, "keeps
            # running on the server", its error says, but into a model its caller never
            # got, which the close terminates: say so.
            stopped = (OperationTimeoutError, asyncio.CancelledError, KeyboardInterrupt)
            if made and isinstance(exc, stopped):
                exc.add_note(
                    f"it is the load into model {made[-1]}, made for this call, which the "
                    "client's close terminates (its caller never got it), ending the load"
                )
            raise

    def _open_session(self) -> Plan[_Session]:
        """The session, new; run holding ``_lock``, as every change of it is."""
        session: wire.Session = yield calls.create_session(
            tags=self._tags, user_metadata=self._user_metadata, sdk_version=USER_AGENT
        )
        session_id = expect("create_session", "Session", "id", session.id, str)
        if self._session is None:
            self._session = _Session(session_id)
        else:  # in place of an ended one (``_reopen``): a heartbeat already running beats it
            self._session.id = session_id
        if self._io.closed:  # closed while the session was being opened: no heartbeat
            raise ClientClosedError("the Weaver client was closed while opening a session")
        return self._session

    def _reopen(self, gone: str) -> Plan[tuple[str, bool] | None]:
        """A new session in place of ``gone``, unless another create opened one already;
        and whether this call opened it. ``None`` if ``gone`` still answers: the create's
        404 was its own (a server may answer an unknown base model so); or if asking for
        it failed (a 5xx, no reply), which says nothing of its end: the next create asks
        again. Run holding ``_lock`` (``Exclusive``), so that the creates that met the end
        at once wait for one new session, as for the first, instead of each opening one."""
        if self._session is not None and self._session.id != gone:
            return self._session.id, False
        try:
            yield calls.get_session(gone)
        except APIError as failed:
            # A 405 is a server without the route: only its creates' 404s tell an end.
            if not isinstance(failed, NotFoundError) and failed.status_code != 405:
                return None
        else:
            return None
        logger.warning("session %s is gone (404 on a create); opening a new one", gone)
        return (yield from self._open_session()).id, True

    def _new_model(
        self,
        base_model: object,
        training_mode: object,
        lora_rank: object,
        seed: object,
        keep: object,
    ) -> NewModel:
        """Check ``create_training_client``'s arguments (no request)."""
        check_bool("keep", keep)
        base_model = check_base_model(base_model)
        mode = check_choice("training_mode", training_mode, [m.value for m in wire.TrainingMode])
        rank = DEFAULT_LORA_RANK
        if lora_rank is not None:
            low, high = limits.LORA_CONFIG_RANK_MINIMUM, limits.LORA_CONFIG_RANK_MAXIMUM
            rank = check_int("lora_rank", lora_rank, low, high, otherwise=", or None")
        if seed is not None:
            low, high = limits.LORA_CONFIG_SEED_MINIMUM, limits.LORA_CONFIG_SEED_MAXIMUM
            seed = check_int("seed", seed, low, high, otherwise=", or None")
        # A full_ft model is created without lora_config (the wire sends it only for lora),
        # so a LoRA setting given with it would be dropped in silence.
        for name, value in (("lora_rank", lora_rank), ("seed", seed)):
            if value is not None and mode != "lora":
                raise InvalidArgumentError(
                    f"{name} is part of the LoRA configuration; full_ft models take no {name}"
                )
        lora = LoraSettings(rank=rank, seed=seed) if mode == "lora" else None
        return NewModel(base_model=base_model, training_mode=mode, lora=lora)

    def _create_model(
        self,
        session_id: str,
        new: NewModel,
        *,
        keep: bool,
        interrupted: Callable[[], bool],
        lost_replies: _LostReplies | None = None,
        stop_word: str = "interrupted",
    ) -> Plan[ModelInfo]:
        """A model's create; ``lost_replies`` counts its attempts whose reply was lost, that
        no model returned names, for a Ctrl-C, which never comes into the plan (``_create``);
        ``stop_word`` names what ``interrupted`` tells (an async create's is a cancel)."""
        counted = _LostReplies() if lost_replies is None else lost_replies

        def create_on(session_id: str, ended: int = 0) -> Plan[ModelInfo]:
            """A create in ``session_id``, after ``ended`` attempts whose reply was lost
            in a session that then ended."""

            def warn(made: wire.Model, lost: int) -> None:
                if lost or ended:
                    lost += ended
                    said = _created_after_lost_reply(made.id, lost, ended)
                    warn_naming_calls(said, left_running=True)

            def lost_create(lost: int, why: str | None) -> str:
                counted.replies = lost + ended  # for a Ctrl-C held, then raised over this error
                return _lost_create(lost + ended, why)

            create = calls.create_model(
                session_id,
                model_seq_id=next(self._model_seq),
                base_model=new.base_model,
                training_mode=new.training_mode,
                lora=new.lora,
            )
            create = create._replace(
                on_its_way=_made_unseen(1),
                after_lost_reply=warn,
                lost_replies=lost_create,
            )
            return (yield from self._made(create, new, keep=keep))

        def reopen(gone: str, refused: NotFoundError) -> Plan[tuple[str, bool]]:
            """``_reopen``, after ``refused``, the 404 of the create in ``gone``, which
            stands if ``gone`` still answers, or if a Ctrl-C (or a cancel) came meanwhile:
            no create is sent after it."""
            root = self._root
            reopened: tuple[str, bool] | None
            late = functools.partial(_session_timeout, after="the create was not sent again")
            reopened = yield Exclusive(root._lock, root._reopen(gone), late)
            if reopened is None or interrupted():
                raise refused
            return reopened

        try:
            made = yield from create_on(session_id)
        except NotFoundError as gone:
            # The wire gives a session no lifetime, but a server may end one that missed
            # its heartbeats (a laptop asleep): its creates are 404 until a new one opens.
            if interrupted():
                raise
            # The 404 answered a retry: each attempt whose reply was lost may have made a
            # model in the session before it went. One WARNING of them all, also when a
            # reply is lost in the new session too.
            lost = counted.replies = _replies_lost(gone)
            try:
                reopened, opened = yield from reopen(session_id, gone)
                try:
                    made = yield from create_on(reopened, lost)
                except NotFoundError as again:
                    # Another create opened it, and the server ended it too: a new one, as
                    # this create would have opened had it come first.
                    if opened or interrupted():
                        raise
                    lost = counted.replies = lost + _replies_lost(again)
                    made = yield from create_on((yield from reopen(reopened, again))[0], lost)
            except (APIError, ClientClosedError) as refused:
                # No model to warn of, but an attempt whose reply was lost may have made
                # one: said here, unless the new session's create, after a lost reply of
                # its own, said so, counting these (its open, closed while it waited to
                # retry, says nothing).
                if lost and not goes_on(refused):
                    add_goes_on_note(refused, _lost_create(lost))
                    give_cli_words(refused)
                raise
        counted.replies = 0  # the model's WARNING names them (``warn``)
        model = new.describe(made)
        # Interrupted (Ctrl-C, a cancel) before its reply came, or answered once the client
        # began closing (which waits for it): its caller never gets it.
        stopped = interrupted()
        closing, terminated = self._created.add(
            model.id, new, keep=keep, unclaimed=stopped, closing=self._io.refusing
        )
        if closing:
            if not terminated:
                warn_naming_calls(models_left(model.id, 1), left_running=True)
            # Not "terminated": a second Ctrl-C may yet cut that close short, whose
            # WARNING then names the model left running.
            fate = (
                "left to the close under way to terminate (a WARNING names it if it does not)"
                if terminated
                else f"left running ({how_to_end(1)})"
            )
            raise ClientClosedError(
                f"create_model: the Weaver client was closed while model {model.id} was "
                f"being created; it is {fate}"
            )
        if stopped:
            warn_naming_calls(
                f"create_model: {stop_word} while model {model.id} was being created; the "
                "client's close terminates it"
            )
        return model

    def _made(self, create: Call[wire.Model], new: NewModel, *, keep: bool) -> Plan[ModelInfo]:
        """The model ``create`` made. A success reply that breaks the spec (a field the
        real service promises) stands as the error, but the server made a model all the
        same: one the reply names is terminated on close, even if kept (its caller never
        gets it), else the error says that it runs on, unknown."""
        made: wire.Model | None = None
        try:
            made = yield create
            return model_info_from_wire(create.op_id, made)
        except ResponseValidationError as broken:
            model_id: object = None if made is None else made.id  # the parser passes any type
            if isinstance(model_id, str):
                _, terminated = self._created.add(
                    model_id, new, keep=keep, unclaimed=True, closing=self._io.refusing
                )
                if not terminated:  # as ``_create_model``'s: a cancelled caller sees no error
                    warn_naming_calls(models_left(model_id, 1), left_running=True)
                fate = (
                    "which the client's close terminates (its caller never got it)"
                    if terminated
                    else f"left running: the client was closed meanwhile ({how_to_end(1)})"
                )
                add_goes_on_note(broken, f"the server made model {model_id} all the same, {fate}")
            elif made is not None or 200 <= (broken.status_code or 0) < 300:
                add_goes_on_note(
                    broken, f"the server made a model all the same, {_unknown_made(True)}"
                )
                give_cli_words(broken)
            raise

    def _attach(
        self, model_id: object, next_seq_id: object
    ) -> Plan[tuple[ModelInfo, int | None, bool]]:
        """A model attached by id, the ``next_seq_id`` given (checked), and whether the
        server no longer finds the model (attached for its checkpoints)."""
        start = None if next_seq_id is None else check_int("next_seq_id", next_seq_id, 1)
        model_id = check_id("model_id", model_id)
        try:
            model = yield from self._get_model(model_id)
        except NotFoundError as missing:
            if not (yield from _kept(model_id, missing)):
                raise missing from None
            logger.info(
                "model %s: the server no longer finds it (terminated?) but lists its "
                "checkpoints: attached for them",
                model_id,
            )
            return self._created.describe(ModelInfo(id=model_id)), start, True
        return model, start, False

    def _get_model(self, model_id: str) -> Plan[ModelInfo]:
        model = yield from model_plan(calls.get_model(model_id))
        return self._created.describe(model)

    def _find_model(self, model_id: object) -> Plan[ModelInfo]:
        """``get_model``, whose docstring says the note its 404 gets, as ``_attach``'s."""
        checked = check_id("model_id", model_id)
        try:
            return (yield from self._get_model(checked))
        except NotFoundError as missing:
            if (yield from _kept(checked, missing)):
                missing.add_note(
                    f"model {checked} is no longer found, but the server lists checkpoints of "
                    "it: it was terminated, and they stay"
                )
            raise

    def _forgotten(self, model_id: str, missing: NotFoundError) -> Plan[bool]:
        """``_kept`` of ``model_id``, whose terminate was the 404 ``missing``, once its
        ``GET`` is a 404 too; ``False`` if the server finds the model (the 404 says
        something else) or cannot tell (its ``GET`` failed: a 5xx, a lost reply): the 404
        stands as it is."""
        try:
            yield from self._get_model(model_id)
        except NotFoundError:
            return (yield from _kept(model_id, missing))
        except APIError:  # it tells nothing of the model
            return False
        return False

    def _terminate(self, model_id: object) -> Plan[ModelInfo]:
        checked = check_id("model_id", model_id)
        try:
            model = yield from terminate_plan(checked)
        except NotFoundError as missing:
            # Terminating twice is no error (``terminate_model``): this client knows the
            # models it terminated; another (a second process, each command of the CLI)
            # knows one by the checkpoints the server still lists of it.
            if self._created.settings(checked) is not None and _earlier(missing) is not None:
                # An earlier attempt that may have acted (its reply lost, say) terminated
                # the model this client made, which a server that forgets terminated
                # models then finds no more.
                logger.info(
                    "terminate_model: model %s is no longer found after an earlier attempt "
                    "that may have acted: terminated by it",
                    checked,
                )
            elif not self._steps.was_terminated(checked):
                if not (yield from self._forgotten(checked, missing)):
                    raise
                logger.info(
                    "terminate_model: model %s is no longer found, but its checkpoints "
                    "are listed: terminated already",
                    checked,
                )
            model = ModelInfo(id=checked)
        self._created.forget(checked)
        self._steps.terminated(checked, self._io.lock)
        return self._created.describe(model)


def _unknown_made(one: bool) -> str:
    """The end of each note on a model (or models) a create may have made unseen."""
    it, ids = ("it", "its id") if one else ("them", "their ids")
    return (
        f"which this client cannot terminate, not knowing {ids}; a server with the "
        f"model-listing extension shows {it} in service.list_models() (end {it} with "
        "terminate_model())"
    )


def _made_unseen(lost: int) -> str:
    made = "it" if lost <= 1 else f"up to {lost} models"
    return (
        "the request to create a model was on its way: the server may have made "
        f"{made}, {_unknown_made(lost <= 1)}"
    )


async def _on_asyncio(io: AsyncIO) -> AsyncIO:
    """Where each async call of the service client begins: without an asyncio loop (under
    trio) it says so, before asyncio's own calls fail with a bare ``RuntimeError``. Gives
    the call's ``io.whole()``, taken before the imports a first call waits for (tenths of
    a second, ``loaded_off_loop``), so that its timeout counts them, as a sync call's does."""
    running_loop()
    io = io.whole()
    await loaded_off_loop()
    return io


def _earlier_lost(lost: int) -> str:
    if lost <= 1:
        return "an earlier attempt's reply was lost"
    return f"{lost} earlier attempts' replies were lost"


def _lost_create(lost: int, why: str | None = None) -> str:
    """The note of a create refused after ``lost`` attempts whose reply was lost, or that
    ended ``why`` (``"no reply came"``, ``"interrupted"``, ...: ``lost`` in all; ``"HTTP 502
    came"``, a proxy's reply, the last of ``lost``), each of which may have made a model:
    in ``_created_after_lost_reply``'s words."""
    if why is None:
        how = _earlier_lost(lost)
    elif lost <= 1:
        how = why
    elif why == "no reply came":
        how = f"no reply came to {lost} attempts"
    elif why.startswith("HTTP "):
        how = f"{why} after {_earlier_lost(lost - 1)}"
    else:
        how = f"{why} after {lost} attempts' replies were lost"
    return f"{how} while {_made_unseen(lost)}"


def _created_after_lost_reply(model_id: str, lost: int, ended: int = 0) -> str:
    """The WARNING of a create answered after ``lost`` attempts whose reply was lost,
    ``ended`` of them in a session that then ended (whose model a server that
    de-duplicates model_seq_id keeps too: the new session's create has a seq id of its
    own)."""
    one = lost == 1
    who = "the server" if ended else "a server that does not de-duplicate model_seq_id"
    return (
        f"create_model: model {model_id} was made after {_earlier_lost(lost)}: {who} may have made "
        f"{'another model' if one else f'up to {lost} other models'} too, {_unknown_made(one)}"
    )


def _kept(model_id: str, missing: NotFoundError) -> Plan[bool]:
    """Whether the server lists a checkpoint of ``model_id``, whose ``GET`` was the 404
    ``missing``: a model it forgot once terminated (``lookup.kept_of_forgotten``). If not,
    ``missing`` gets a note that the model may never have been; a listing that fails (a
    5xx, a lost reply) tells nothing either way, and the note names its error."""
    failed = ""
    try:
        if (yield from lookup.kept_of_forgotten(model_id, lambda _: True)) is not None:
            return True
    except APIError as exc:
        failed = f"; its checkpoints, which would tell, could not be listed: {exc}"
    missing.add_note(
        f"model {model_id} may not exist, or may have been terminated already: a server may "
        "forget a terminated model, which without a checkpoint of it listed looks like one "
        f"it never had{failed}"
    )
    return False


def _earlier(error: APIError) -> EarlierAttempt | None:
    """The earlier attempts, which the server may have acted on, of the request whose
    retry ``error`` answered."""
    delivery = error.delivery
    return delivery.earlier_attempt if isinstance(delivery, Delivery) else None


class ServiceClient(_ServiceBase):
    """A connection to a Weaver server; makes ``TrainingClient``s.

    Args:
        base_url: The server root, such as ``http://127.0.0.1:8080``; default
            ``WEAVER_BASE_URL``.
        api_key: The API key; default ``WEAVER_API_KEY``. Never shown in reprs,
            logs or error messages.
        http_client: An ``httpx.Client`` whose transport, proxies, auth and
            hooks carry our requests; the facade still adds the API key,
            ``User-Agent``, timeout and retries. It is not closed by us.
        sleep: How to wait between retries and polls (tests pass a fake); by default a
            sleep that ``close()`` cuts short.
        **options: See ``ClientOptions``.

    Use as a context manager, or call ``close()``: one never closed terminates nothing,
    and a WARNING record and a ``ResourceWarning`` name the models it leaves running.
    """

    # Named here, not only inherited, so that the API reference lists it.
    with_options = HasOptions.with_options

    _io: SyncIO

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        url, key = _credentials(base_url, api_key)
        del base_url, api_key  # see _credentials
        check_keywords("ServiceClient", options, _KEYWORDS)
        check_type(
            "http_client", http_client, (httpx.Client, type(None)), "an httpx.Client, or None"
        )
        check_callable("sleep", sleep)
        super().__init__(url, key, **options)
        inner = (
            ClientTransport(http_client) if http_client is not None else own_transport(self._server)
        )
        wakeup = Wakeup()
        sleep = sleep or wakeup.sleep
        transport = RetryTransport(inner, policy=self._retry, sleep=sleep, clock=self._poll.clock)
        self._io = SyncIO(
            self._generated(transport),
            poll=self._poll,
            timeout=self._timeout,
            sleep=sleep,
            on_progress=self._on_progress,
            wakeup=wakeup,
        )
        # Said once nothing can use the session, or at exit: a client never closed
        # terminates nothing, and its models would run on unseen.
        self._io.if_never_closed(
            functools.partial(self._created.never_closed, "a ServiceClient", "`with`, or `close()`")
        )
        self._lock = threading.Lock()
        # Reentrant: a close from a signal handler, while this thread closes, returns.
        self._close_lock = threading.RLock()
        self._closing = False
        # The creates on their way, each set once it has ended, with its thread: a close
        # waits for them, so that it terminates the models their replies name.
        self._creating: dict[threading.Event, int] = {}
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        # Waits between heartbeats; True once closed. Tests replace it to run without time.
        self._wait_beat: Callable[[float], bool] = self._stop.wait

    def __enter__(self) -> Self:
        return self._entered()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._root is not self:
            return  # a with_options() copy's close closes nothing: its WARNING would say it did
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else None
        # The creates on their way in other threads, whose replies the close waits for.
        creating = sum(
            not ended.is_set() and thread != threading.get_ident()
            for ended, thread in list(self._root._creating.items())
        )
        with self._created.closing_block(exc, why, self._close_within(), creating):
            try:
                self.close()
            except KeyboardInterrupt as again:
                if isinstance(exc, KeyboardInterrupt):
                    carry_notes(exc, again)
                raise

    def close(self) -> None:
        """Stop the heartbeat, terminate the models this client created (unless kept; errors
        are logged and ignored) and close connections. Checkpoints stay.

        A create on its way in another thread is waited for: it raises
        ``ClientClosedError``, and its model, which its caller never got, is terminated.

        Bounded whatever the server does: a heartbeat still being sent is abandoned, and
        the wait for creates and the terminates, retries included, end within the
        client's read timeout.

        A ``with_options()`` copy closes nothing: its original owns the connections.
        """
        if self._root is not self:
            return
        # Calls refused before the heartbeat stops: a close cut short between the two left
        # a client that sent with its session no longer beaten, which the server ended.
        self._io.wakeup.begin_closing()
        self._stop.set()  # the thread (a daemon) sends no more; one in flight is not awaited
        self._heartbeat = None
        with self._close_lock:  # a second close waits for the first, and terminates nothing
            if self._closing:
                return
            self._closing = True
            try:
                if not self._io.closed:
                    # Only a close that terminates runs: a create answered as a second
                    # close looks at the closed IO is left to none. Ended by the finally.
                    self._created.close_state = "running"
                    try:
                        with self._io.closing(self._close_within()) as closer:
                            for ended, thread in list(self._creating.items()):
                                # Not one of this thread's (a close from a signal handler):
                                # it cannot end before the close does.
                                if thread != threading.get_ident():
                                    ended.wait(closer.time_left())
                            closer.run(self._created.terminate())
                    except KeyboardInterrupt:
                        # A Ctrl-C during the terminates, or the wait for the creates on
                        # their way: name the models left, as a cancelled aclose() does.
                        creating = sum(not ended.is_set() for ended in list(self._creating))
                        self._created.left_running(interrupted=True, creating=creating)
                        raise
                self._io.close()
            finally:
                self._closing = False
                self._created.close_state = "ended"

    def _ensure_session(self, io: SyncIO) -> str:
        """The session, opened with ``io`` (the caller's, so within its ``timeout``); called
        on the root, whose session ``with_options()`` copies share."""

        def opened() -> str:
            if self._session is not None:
                return self._session.id
            session = io.run(self._open_session())
            if self._heartbeat_interval > 0:
                beat = (self._io.origin, self._wait_beat, self._heartbeat_interval, session)
                self._heartbeat = threading.Thread(
                    target=_beat, args=beat, name="weaver-heartbeat", daemon=True
                )
                self._heartbeat.start()
            return session.id

        # Another call may be opening it: waited for within this call's timeout too.
        return io.holding(self._lock, _session_timeout, opened)

    def create_training_client(
        self,
        base_model: str,
        *,
        training_mode: Literal["lora", "full_ft"] = "lora",
        lora_rank: int | None = None,
        seed: int | None = None,
        keep: bool = False,
    ) -> TrainingClient:
        """Create a training model from ``base_model`` and return its client.

        A Ctrl-C once the request has left waits for its reply (a second one does not),
        so that the model the server made is known, and terminated on close even if kept:
        the caller never got it. No retry is sent after it.

        Args:
            base_model: A supported base model, such as ``"weaver-tiny"``
                (see ``supported_models()``).
            training_mode: ``"lora"`` (default) or ``"full_ft"``.
            lora_rank: The LoRA rank, 1 to 256 (LoRA only); ``None``: ``DEFAULT_LORA_RANK``.
            seed: The LoRA initialisation seed (LoRA only).
            keep: Keep the model when this client closes (by default it is terminated).
        """
        new = self._new_model(base_model, training_mode, lora_rank, seed, keep)
        model = self._create(new, keep=keep, io=self._io)
        return TrainingClient(self._io, model, steps=self._steps)

    @contextlib.contextmanager
    def _on_its_way(self) -> Iterator[None]:
        """Around a create's request, which a close waits for (called on the root): one
        that begins after the close has, is refused."""
        ended = threading.Event()
        self._creating[ended] = threading.get_ident()
        try:
            yield
        finally:
            del self._creating[ended]
            ended.set()

    def _create(self, new: NewModel, *, keep: bool, io: SyncIO) -> ModelInfo:
        io = io.whole()  # the session and the model within one call's timeout
        session_id = self._root._ensure_session(io)
        # A first Ctrl-C waits for the reply, but for no retry (``create_training_client``).
        lost = _LostReplies()
        made: ModelInfo | None = None
        try:
            with self._root._on_its_way(), interrupt_held(_waiting_for_model) as interrupted:
                plan = self._create_model(
                    session_id, new, keep=keep, interrupted=interrupted, lost_replies=lost
                )
                made = io.stopping_retries(interrupted).run(plan)
            return made  # noqa: RET504 (a Ctrl-C held is raised as the block ends)
        except KeyboardInterrupt as exc:  # raised past the plan, which sees no such error
            if made is not None:
                # Held once the model was recorded as the caller's, raised as the create
                # ended: its caller never gets it either.
                self._created.unclaimed([made.id], "create_model: interrupted as its reply came")
            # Unnoted, it cut no create whose reply was lost (a new session's open, say), or
            # was held, then raised over the create's refusal: the attempts whose reply was
            # lost may each have made a model.
            if lost.replies and not getattr(exc, "__notes__", None):
                add_goes_on_note(exc, _lost_create(lost.replies, "interrupted"))
            give_cli_words(exc)  # a Ctrl-C while a retry waited: a model may be made
            raise

    def training_client(self, model_id: str, *, next_seq_id: int | None = None) -> TrainingClient:
        """Attach to an existing model by id.

        Checkpoint methods (save, list, get, delete, TTL, load) work at once.
        Training steps need the model's next ``seq_id``: every
        ``forward_backward``, ``optim_step`` and forward pass carries one, one
        counter per model, and a server that de-duplicates them, as the emulator
        does, answers a repeated ``seq_id`` with the *old* operation (the wire sheet
        leaves today's Weaver's rule unknown), so a client that counted from 1 again
        could silently skip steps. It comes from ``next_seq_id`` if given, else from the server's
        ``Model.next_seq_id`` (an extension the reference server provides).
        With neither, training calls are refused before any request. The training
        clients of one model in this service client share one count: without
        ``next_seq_id``, an attach continues the count of one that trains the model
        already. To resume after a crash, prefer a new model and
        ``load_state_with_optimizer``.

        Args:
            model_id: The model's id.
            next_seq_id: The ``seq_id`` of the next training step (the last one
                used on this model plus 1), to override the server's, and the count
                of every training client of the model in this service client.
        """
        model, start, forgotten = self._io.run(self._attach(model_id, next_seq_id))
        return TrainingClient(
            self._io, model, next_seq_id=start, forgotten=forgotten, steps=self._steps
        )

    @overload
    def operation(self, operation_id: str) -> OperationHandle[OperationResult]: ...
    @overload
    def operation(self, operation_id: str, result_type: type[T]) -> OperationHandle[T]: ...
    def operation(
        self, operation_id: str, result_type: type[Any] | None = None
    ) -> OperationHandle[Any]:
        """Re-attach to an operation by id, for example after a crash or a timeout.

        The result parser follows ``result_type`` (``ForwardBackwardResult``,
        ``OptimStepResult``, ``Checkpoint``, ``LoadResult`` or ``Artifact``) or else the
        operation's ``kind``; with neither, ``result()`` is the raw ``response`` dict.

        It fetches the operation once, a call like any other: ``result(timeout=...)``
        bounds only the wait that follows, and ``with_options(timeout=...)`` bounds the
        fetch (``service.with_options(timeout=10).operation(id).result(timeout=60)``).
        """
        check_result_type(result_type)
        snapshot = self._io.snapshot(_operation_id(operation_id), None)
        parse, settle, typed = reattach(snapshot, result_type)
        parts = HandleParts(snapshot=snapshot, parse=parse, settle=settle)
        return self._io.handle(parts, polled=True, reattach_as=typed)

    # -- models ---------------------------------------------------------------------------

    def supported_models(self) -> list[BaseModelInfo]:
        """The base models this server can train from, following every page."""
        return list(self._io.whole().pages(base_model_pager()))

    def iter_models(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[ModelInfo]:
        """Yield this key's training models, oldest first, page by page (terminated too).

        Raises:
            UnsupportedByServerError: The server lacks the ``model-listing`` extension.
        """
        with model_listing():
            yield from self._io.pages(model_pager(page_size))

    def list_models(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[ModelInfo]:
        """All of this key's training models, oldest first, following every page.

        Raises:
            UnsupportedByServerError: The server lacks the ``model-listing`` extension.
        """
        with model_listing():
            return list(self._io.whole().pages(model_pager(page_size)))

    def get_model(self, model_id: str) -> ModelInfo:
        """A training model, as the server describes it now.

        A model not found (``NotFoundError``) has a note: one the server forgot once
        terminated cannot be told from one it never had, unless it still lists a
        checkpoint of it, which the note then says.
        """
        return self._io.run(self._find_model(model_id))

    def terminate_model(self, model_id: str) -> ModelInfo:
        """Terminate a model: it stops holding training resources and refuses to train
        (``ModelTerminatedError``, before any request from this client's training clients
        of it); its checkpoints stay. Terminating twice is no error, also from another
        client or process on a server that no longer finds a terminated model, when it
        still lists a checkpoint of it (without one, such a model is not found: the wire
        cannot tell it from one the server never had)."""
        return self._io.run(self._terminate(model_id))

    def create_training_client_from_state(
        self,
        checkpoint: CheckpointRef,
        *,
        with_optimizer: bool = True,
        keep: bool = False,
        base_model: str | None = None,
    ) -> TrainingClient:
        """Resume a checkpoint in one call: a new model like the checkpoint's, loaded from it.

        Reads the checkpoint's model (base model, training mode, LoRA settings),
        creates a matching model, loads the checkpoint into it (weights and, with
        ``with_optimizer``, the Adam state, so that training continues bit for bit)
        and returns its client, ready to train; its ``resumed_from`` is the load's result.

        Args:
            checkpoint: A ``Checkpoint``, its ``weaver://`` path or its id.
            with_optimizer: Also restore the optimizer state (default); ``False`` loads
                the weights only, with a fresh optimizer.
            keep: Keep the new model when this client closes (see
                ``create_training_client`` for a Ctrl-C during its create).
            base_model: The base model the checkpoint's model was created from, for a
                server that does not describe it (the wire does not require it to);
                refused if the server names another.

        Raises:
            OptimizerStateUnavailableError: ``with_optimizer`` and a checkpoint without
                optimizer state; raised before any model is created.
            InvalidArgumentError: Neither the server nor ``base_model`` gives the base
                model, or they differ (before any model is created).
            CheckpointNotReadyError: The checkpoint is not completed (before any model
                is created).
        """
        # Its steps each within their own timeout, the first's counted from here (``whole``).
        first = iter([self._io.whole()])
        with self._resuming(checkpoint, with_optimizer, keep, base_model) as (plan, made):
            model, loaded = drive(
                plan, lambda step: self._resume_step(step, keep, made, next(first, self._io))
            )
        return TrainingClient(self._io, model, resumed_from=loaded, steps=self._steps)

    def _resume_step(self, step: ResumeStep, keep: bool, made: list[str], io: SyncIO) -> Any:
        if isinstance(step, NewModel):
            model = self._create(step, keep=keep, io=io)
            made.append(model.id)
            return model
        return io.perform(step)

    def list_artifacts(self, checkpoint: CheckpointRef) -> list[Artifact]:
        """A checkpoint's artifacts (pending, completed and failed), in the server's order.

        ``checkpoint`` is a ``Checkpoint``, its id, or its ``weaver://`` path.
        """
        return self._io.run(list_artifacts_plan(checkpoint, self._steps.deleted))

    def download_weights(
        self,
        target: DownloadTarget,
        dest: str | os.PathLike[str],
        *,
        kind: Literal["hf_model", "hf_adapter"] | None = None,
        verify: bool = _DOWNLOAD.verify,
        max_concurrency: int = _DOWNLOAD.max_concurrency,
        progress: Callable[[DownloadProgress], None] | None = None,
        timeout: float | None = None,
    ) -> DownloadResult:
        """Download an artifact's files into the folder ``dest``, verified and resumable.

        Each file streams into ``<name>.part``, is checked (size, and sha256 unless
        ``verify=False``) and only then renamed into place. Run it again after an
        interruption (even ``kill -9``): finished files are skipped and ``.part``
        files resume where they stopped, checked by their sha256 (a file the server
        gives none starts over). Storage URLs are fetched without the API key.

        Args:
            target: An ``Artifact``, an artifact id, a checkpoint (``Checkpoint`` or
                ``weaver://`` path), or ``weaver://.../artifacts/{kind}``.
            dest: The folder to write into (created if needed, and removed again if the
                download ends short with nothing in it).
            kind: ``hf_adapter`` or ``hf_model``, when a checkpoint has both; given with
                an artifact or its id, the kind it must be.
            verify: Check each file's sha256 (its size is always checked). A resumed
                ``.part``, and a file in place whose size the server does not give,
                are checked all the same: only their hash tells they are this
                artifact's.
            max_concurrency: Files fetched at once, 1 to 64.
            progress: Called with a ``DownloadProgress`` after every write, from the
                download's threads, never the caller's (for the async client, not the
                event loop's: ``loop.call_soon_threadsafe`` hands it what to show), one
                call at a time for this download; two downloads at once that share one
                function may call it at the same time, each with its own counts and its
                artifact's id. An
                exception it raises ends the download, with a note that its files stay.
            timeout: An overall deadline in seconds, from the call: the requests that find
                the artifact and its descriptor (and its refreshes), the transfers and their
                retries; ``None``: none.

        Raises:
            AmbiguousArtifactKindError: A checkpoint with artifacts of both kinds, and
                no ``kind``.
            UnsafeArtifactPathError: A file name would leave ``dest``, or ``dest`` is
                not a folder, cannot be made or takes no files (no permission, a
                read-only mount); nothing is written.
            ArtifactIntegrityError: A file's size or sha256 is wrong; it is not kept.
            StorageError: Storage kept failing (README, "What is retried"); run it again
                to resume.
            DownloadTimeoutError: ``timeout`` passed, at whatever step (an API request
                too); run it again to resume.
            OSError: A file could not be written (a full disk: ``ENOSPC``, with a note
                of how many bytes more the artifact needs in ``dest``); run it again to
                resume.
        """
        folder, settings = download_arguments(dest, verify, max_concurrency, progress, timeout)
        deadline = DownloadDeadline(settings, self._io, self._retry)
        # Its API requests each within their own timeout, the first's counted from here as
        # a resume's first step's is (``DownloadDeadline.first``).
        first = iter([deadline.first])

        def send(step: object) -> Any:
            with deadline.api_request(step):
                return next(first, deadline.io).perform(step)

        artifact_id, descriptor = drive(download_plan(target, kind, self._steps.deleted), send)
        state = download_sync(
            deadline.downloads(descriptor, progress),
            folder,
            refresh=lambda: drive(download_descriptor(artifact_id), send),
            stop_on=deadline.io.wakeup.stopping,
        )
        return download_result(state, folder)


class AsyncServiceClient(_ServiceBase):
    """The async twin of ``ServiceClient``; use ``async with`` or ``await aclose()``.

    Takes the same arguments, with ``http_client`` an ``httpx.AsyncClient`` and
    ``sleep`` a coroutine function. The heartbeat is an asyncio task.
    """

    with_options = HasOptions.with_options

    _io: AsyncIO

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        url, key = _credentials(base_url, api_key)
        del base_url, api_key  # see _credentials
        check_keywords("AsyncServiceClient", options, _KEYWORDS)
        check_type(
            "http_client",
            http_client,
            (httpx.AsyncClient, type(None)),
            "an httpx.AsyncClient, or None",
        )
        check_callable("sleep", sleep, awaited=True)
        super().__init__(url, key, **options)
        self._own_connections = http_client is None
        self._sleep = sleep
        self._io = self._new_io(http_client)
        self._io.if_never_closed(  # see ServiceClient
            functools.partial(
                self._created.never_closed,
                "an AsyncServiceClient",
                "`async with`, or `await aclose()`",
            )
        )
        self._lock = asyncio.Lock()
        self._close_lock = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None
        # The creates on their way, also those whose caller was cancelled: aclose() waits
        # for their replies, so that it terminates the models they make.
        self._creating: set[asyncio.Future[ModelInfo]] = set()
        # True while a close handed over from another loop runs on this one: cancelled by
        # this loop's owner, it is made again from there, which says what it leaves running.
        self._closed_again = False
        # Waits between heartbeats (cancelled on close). Tests replace it to run without time.
        self._wait_beat: Callable[[float], Awaitable[None]] = asyncio.sleep

    def _new_io(self, http_client: httpx.AsyncClient | None) -> AsyncIO:
        inner = (
            AsyncClientTransport(http_client)
            if http_client is not None
            else own_async_transport(self._server)
        )
        wakeup = Wakeup()
        sleep = self._sleep or wakeup.asleep
        transport = AsyncRetryTransport(
            inner, policy=self._retry, sleep=sleep, clock=self._poll.clock
        )
        return AsyncIO(
            self._generated(transport),
            poll=self._poll,
            timeout=self._timeout,
            sleep=sleep,
            on_progress=self._on_progress,
            wakeup=wakeup,
        )

    async def __aenter__(self) -> Self:
        return self._entered()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._root is not self:
            return  # see ServiceClient.__exit__
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else None
        if isinstance(exc, asyncio.CancelledError):
            why = "cancelled"
        creating = _unanswered(self._root._creating)  # the close waits for their replies
        try:
            with self._created.closing_block(exc, why, self._close_within(), creating):
                await self.aclose()
        except (KeyboardInterrupt, asyncio.CancelledError) as again:
            if (ctrl_c := _ctrl_c(again)) is None:
                raise
            # Under asyncio.run(), a second Ctrl-C raises wherever the program's task is: also
            # before the close could say this (as the WARNING above is written, say).
            if not getattr(again, _LEFT_SAID, False):
                self._created.left_running(
                    interrupted=True, creating=_unanswered(self._root._creating)
                )
            if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):  # see __exit__
                carry_notes(exc, ctrl_c)
            raise

    async def aclose(self) -> None:
        """See ``ServiceClient.close``.

        On another event loop than the client's, the close runs on the client's loop:
        there while it runs, else in a thread of its own while this one waits. Once that
        loop is closed, its connections are gone with it: the models are terminated
        through new ones, on this loop; a client given ``http_client`` has none, and
        ``EventLoopError`` names the models left running, if any.
        """
        if self._root is not self:
            return
        if not self._io.bound:
            try:
                running_loop()
            except EventLoopError:  # never used (its call said why): nothing to close
                self._io.abandon()
                return
        bound = self._io.other_loop()
        if bound is not None:
            if not bound.is_closed():
                # Running, or stopped (a fixture's loop between its uses, `run_until_complete`):
                # its connections and heartbeat still work there, and this thread runs a loop.
                hand_over = self._aclose_there if bound.is_running() else self._aclose_stopped
                if not await hand_over(bound):
                    await self.aclose()  # it stopped, started or closed meanwhile
            else:
                self._heartbeat = None  # a task of that loop, which never runs again
                if self._io.closed:
                    return
                self._io.abandon()
                if self._own_connections and self._created.pending():
                    # Its connections died with that loop: the terminates go through new
                    # ones, on this loop (a user's client belongs to the closed one).
                    io = self._new_io(None)
                    try:
                        with io.closing(self._close_within()) as closer:
                            await closer.run(self._created.terminate())
                    finally:
                        await io.aclose()
                # Raised, not logged: returning as if closed hid models that cost until
                # someone terminates them, which this call cannot.
                if left := self._created.pending():
                    raise EventLoopError(_left_on_a_closed_loop(left, self._own_connections))
            return
        async with self._close_lock:  # see ServiceClient.close
            creates: set[asyncio.Future[ModelInfo]] = set()
            try:
                self._io.wakeup.begin_closing()  # see ServiceClient.close
                if self._heartbeat is not None:
                    self._heartbeat.cancel()
                    # Wait for it to end without taking its CancelledError for ours: a cancel
                    # of this aclose() must still reach the caller.
                    await asyncio.wait({self._heartbeat})
                    self._heartbeat = None
                if not self._io.closed:
                    self._created.close_state = "running"  # see ServiceClient.close
                    with self._io.closing(self._close_within()) as closer:
                        if creates := set(self._creating):
                            # One deadline for all of closing: these replies, then the terminates.
                            await asyncio.wait(creates, timeout=closer.time_left())
                        await closer.run(self._created.terminate())
            except (asyncio.CancelledError, KeyboardInterrupt) as stopped:
                # Those it did not reach wait for another close, which may never come (an
                # ``async with`` under a timeout; under asyncio.run(), a second Ctrl-C, which
                # raises in the close, or cancels it as the program ends): say which they
                # are, also when it came while the close waited for a create's reply.
                if not self._closed_again:
                    self._created.left_running(
                        interrupted=_ctrl_c(stopped) is not None,
                        creating=_unanswered(creates | self._creating),
                    )
                    setattr(stopped, _LEFT_SAID, True)
                raise
            finally:
                self._created.close_state = "ended"
            await self._io.aclose()

    async def _aclose_there(self, bound: asyncio.AbstractEventLoop) -> bool:
        """The close, on the client's loop running in another thread; ``False`` when it
        did not end there: that loop closed before it could be handed over, stopped before
        the close began (it is then taken back: a close left queued on a loop that never
        runs again was waited for ever), closed during it, or cancelled it. Stopped during
        it, the loop is run here until the close ends, as a stopped loop's close is."""
        import concurrent.futures  # asyncio's own import: loaded already

        begun = threading.Lock()  # taken by the close as it begins, or by its taking back
        ended: concurrent.futures.Future[bool] = concurrent.futures.Future()

        async def close() -> None:
            if not begun.acquire(blocking=False):
                return  # taken back
            self._closed_again = True
            try:
                await self.aclose()
            except asyncio.CancelledError:  # by that loop's owner (close again), or by ours
                ended.set_result(False)
            except BaseException as exc:  # the caller's to see
                ended.set_exception(exc)
            else:
                ended.set_result(True)
            finally:
                self._closed_again = False

        there: list[asyncio.Task[None]] = []  # the loop holds its tasks weakly
        try:
            bound.call_soon_threadsafe(lambda: there.append(bound.create_task(close())))
        except RuntimeError:  # closed since it was seen running
            return False
        waited = asyncio.wrap_future(ended)
        try:
            while not waited.done():
                await asyncio.wait({waited}, timeout=_LOOP_WATCH)
                # The loop first: a close that ended there did so before that loop stopped,
                # though this one may not have been told yet.
                if bound.is_running() or ended.done():
                    continue
                taken_back = begun.acquire(blocking=False)
                if taken_back or bound.is_closed():  # never to end there
                    # Never to run: no "never awaited" warning. An eager task (3.12+)
                    # that ran already, and found the close taken back, has no coroutine.
                    if taken_back and there and bound.is_closed():
                        coro = there[0].get_coro()
                        if coro is not None:
                            coro.close()
                    return False
                await in_own_thread(
                    functools.partial(_run_stopped, bound, there[0]),
                    "weaver-close",
                    callers_context=False,
                )
        except asyncio.CancelledError:
            # Cancelled as a close on its own loop is: the models it did not reach wait.
            if not begun.acquire(blocking=False):
                # Run there: an eager task (3.12+) begins before it is appended.
                def cancel() -> None:
                    self._closed_again = False  # nothing closes again: say what is left
                    there[0].cancel()

                with contextlib.suppress(RuntimeError):  # that loop is closed
                    bound.call_soon_threadsafe(cancel)
            raise
        return await waited

    async def _aclose_stopped(self, bound: asyncio.AbstractEventLoop) -> bool:
        """The close, run on the client's stopped loop in a thread of its own while this
        loop waits; ``False`` when that loop started (or closed) before it could."""
        begun = False

        async def close() -> None:
            nonlocal begun
            begun = True
            await self.aclose()

        closing = close()

        def run() -> bool:
            if _run_stopped(bound, closing):
                return True
            if not begun:
                closing.close()  # no "never awaited" warning (here: the caller may be gone)
            return False

        return await in_own_thread(run, "weaver-close", callers_context=False)

    async def _ensure_session(self, io: AsyncIO) -> str:
        """See ``ServiceClient._ensure_session``."""

        async def opened() -> str:
            if self._session is not None:
                return self._session.id
            session = await io.run(self._open_session())
            if self._heartbeat_interval > 0:
                beat = _abeat(self._io.origin, self._wait_beat, self._heartbeat_interval, session)
                self._heartbeat = asyncio.create_task(beat, name="weaver-heartbeat")
            return session.id

        return await io.holding(self._lock, _session_timeout, opened)

    async def create_training_client(
        self,
        base_model: str,
        *,
        training_mode: Literal["lora", "full_ft"] = "lora",
        lora_rank: int | None = None,
        seed: int | None = None,
        keep: bool = False,
    ) -> AsyncTrainingClient:
        """See ``ServiceClient.create_training_client``."""
        io = await _on_asyncio(self._io)
        new = self._new_model(base_model, training_mode, lora_rank, seed, keep)
        model = await self._create(new, keep=keep, io=io)
        return AsyncTrainingClient(self._io, model, steps=self._steps)

    async def _create(self, new: NewModel, *, keep: bool, io: AsyncIO) -> ModelInfo:
        io = io.whole()  # see ServiceClient._create
        session_id = await self._root._ensure_session(io)
        cancelled = False
        plan = self._create_model(
            session_id, new, keep=keep, interrupted=lambda: cancelled, stop_word="cancelled"
        )
        # Cancelled, it waits for the reply on its way, but for no retry.
        creating = asyncio.ensure_future(io.stopping_retries(lambda: cancelled).run(plan))
        on_its_way = self._root._creating
        on_its_way.add(creating)
        creating.add_done_callback(on_its_way.discard)
        try:
            return await asyncio.shield(creating)
        except asyncio.CancelledError:
            # The server may have made the model already: let its reply come, so that
            # the model is among those close() terminates instead of left running unknown.
            cancelled = True
            if creating.done() and not creating.cancelled() and creating.exception() is None:
                # Cancelled once the model was recorded as the caller's, before this
                # task resumed with it: its caller never gets it either.
                made = creating.result().id
                self._created.unclaimed([made], "create_model: cancelled as its reply came")
            creating.add_done_callback(_ignore_outcome)
            raise

    async def training_client(
        self, model_id: str, *, next_seq_id: int | None = None
    ) -> AsyncTrainingClient:
        """See ``ServiceClient.training_client``."""
        io = await _on_asyncio(self._io)
        model, start, forgotten = await io.run(self._attach(model_id, next_seq_id))
        return AsyncTrainingClient(
            self._io, model, next_seq_id=start, forgotten=forgotten, steps=self._steps
        )

    @overload
    async def operation(self, operation_id: str) -> AsyncOperationHandle[OperationResult]: ...
    @overload
    async def operation(
        self, operation_id: str, result_type: type[T]
    ) -> AsyncOperationHandle[T]: ...
    async def operation(
        self, operation_id: str, result_type: type[Any] | None = None
    ) -> AsyncOperationHandle[Any]:
        """See ``ServiceClient.operation``."""
        io = await _on_asyncio(self._io)
        check_result_type(result_type)
        snapshot = await io.snapshot(_operation_id(operation_id), None)
        parse, settle, typed = reattach(snapshot, result_type)
        parts = HandleParts(snapshot=snapshot, parse=parse, settle=settle)
        return self._io.handle(parts, polled=True, reattach_as=typed)

    # -- models ---------------------------------------------------------------------------

    async def supported_models(self) -> list[BaseModelInfo]:
        """See ``ServiceClient.supported_models``."""
        io = await _on_asyncio(self._io)
        return [model async for model in io.pages(base_model_pager())]

    async def iter_models(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[ModelInfo]:
        """See ``ServiceClient.iter_models``."""
        first = await _on_asyncio(self._io)
        with model_listing():
            async for model in self._io.pages(model_pager(page_size), first):
                yield model

    async def list_models(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[ModelInfo]:
        """See ``ServiceClient.list_models``."""
        io = await _on_asyncio(self._io)
        with model_listing():
            return [model async for model in io.pages(model_pager(page_size))]

    async def get_model(self, model_id: str) -> ModelInfo:
        """See ``ServiceClient.get_model``."""
        io = await _on_asyncio(self._io)
        return await io.run(self._find_model(model_id))

    async def terminate_model(self, model_id: str) -> ModelInfo:
        """See ``ServiceClient.terminate_model``."""
        io = await _on_asyncio(self._io)
        return await io.run(self._terminate(model_id))

    async def create_training_client_from_state(
        self,
        checkpoint: CheckpointRef,
        *,
        with_optimizer: bool = True,
        keep: bool = False,
        base_model: str | None = None,
    ) -> AsyncTrainingClient:
        """See ``ServiceClient.create_training_client_from_state``."""
        # Its steps each within their own timeout; the first's from the call, its imports too.
        first = iter([await _on_asyncio(self._io)])
        with self._resuming(checkpoint, with_optimizer, keep, base_model) as (plan, made):
            model, loaded = await adrive(
                plan, lambda step: self._resume_step(step, keep, made, next(first, self._io))
            )
        return AsyncTrainingClient(self._io, model, resumed_from=loaded, steps=self._steps)

    async def _resume_step(self, step: ResumeStep, keep: bool, made: list[str], io: AsyncIO) -> Any:
        if isinstance(step, NewModel):
            model = await self._create(step, keep=keep, io=io)
            made.append(model.id)
            return model
        return await io.perform(step)

    async def list_artifacts(self, checkpoint: CheckpointRef) -> list[Artifact]:
        """See ``ServiceClient.list_artifacts``."""
        io = await _on_asyncio(self._io)
        return await io.run(list_artifacts_plan(checkpoint, self._steps.deleted))

    async def download_weights(
        self,
        target: DownloadTarget,
        dest: str | os.PathLike[str],
        *,
        kind: Literal["hf_model", "hf_adapter"] | None = None,
        verify: bool = _DOWNLOAD.verify,
        max_concurrency: int = _DOWNLOAD.max_concurrency,
        progress: Callable[[DownloadProgress], None] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> DownloadResult:
        """See ``ServiceClient.download_weights``."""
        running_loop()  # under trio, said before the arguments, as by every call here
        folder, settings = download_arguments(dest, verify, max_concurrency, progress, timeout)
        # From the call: its imports too.
        deadline = DownloadDeadline(settings, self._io, self._retry)
        # Its API requests each within their own timeout, the first's from the call too.
        first = iter([await _on_asyncio(deadline.first)])

        async def send(step: object) -> Any:
            with deadline.api_request(step):
                return await next(first, deadline.io).perform(step)

        artifact_id, descriptor = await adrive(
            download_plan(target, kind, self._steps.deleted), send
        )
        state = await download_async(
            deadline.downloads(descriptor, progress),
            folder,
            refresh=lambda: adrive(download_descriptor(artifact_id), send),
            stop_on=deadline.io.wakeup.stopping,
        )
        return download_result(state, folder)


def _replies_lost(gone: NotFoundError) -> int:
    """How many attempts before the one ``gone`` answered got no reply."""
    earlier = _earlier(gone)
    return 0 if earlier is None else earlier.replies_lost


@attrs.define
class _LostReplies:
    """How many attempts of a create lost their reply, in its session or one that ended."""

    replies: int = 0


class _Session:
    """The session's id, which a create may replace (``_reopen``); the heartbeat holds
    this, not the client."""

    __slots__ = ("gone", "id")

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.gone: str | None = None  # the id a heartbeat found gone (404), said once


def _session_timeout(waited: float | None, after: str = "nothing was sent") -> APITimeoutError:
    return APITimeoutError(
        f"create_model: another call was still opening the client's session after "
        f"{seconds(waited or 0)} s, what the call's timeout left; {after}"
    )


def _left_on_a_closed_loop(model_ids: tuple[str, ...], tried: bool) -> str:
    """``tried``: through new connections (whose failures the log names), else none."""
    one = len(model_ids) == 1
    left = f"model {model_ids[0]} is" if one else f"models {', '.join(model_ids)} are"
    it = "it" if one else "them"
    sent = "the terminates through new ones failed" if tried else "nothing was sent"
    return (
        "aclose(): the event loop this async Weaver client was used on is closed, and its "
        f"connections with it: {sent}, so {left} left running. Terminate {it} "
        "from a client made on this loop (`await service.terminate_model(model_id)`), and "
        "close a client before its loop ends (`async with`, or `await client.aclose()` in "
        "the same asyncio.run())"
    )


def _waiting_for_model() -> None:
    warn_naming_calls(
        "interrupted: waiting for create_model to end, so that the model it makes "
        "is terminated on close (interrupt again to stop at once; the model may then be "
        "left running)"
    )


def _run_stopped(loop: asyncio.AbstractEventLoop, work: Awaitable[None]) -> bool:
    """Run a stopped ``loop`` until ``work`` ends; ``False`` when the loop refused, having
    started meanwhile (its owner's) or closed."""
    try:
        loop.run_until_complete(work)
    except RuntimeError:
        if loop.is_running() or loop.is_closed():
            return False
        raise
    return True


# Set on the exception that ended an aclose(), once it said which models it left running.
_LEFT_SAID = "_weaver_left_said"


def _ctrl_c(stopped: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C that ``stopped`` is or comes with: under asyncio.run(), a second one while
    the loop waits is raised outside the program's task, which asyncio.run() then cancels as
    the program ends, while that KeyboardInterrupt, the one the user sees, is the cancel's
    context. ``None`` for any other cancel, after which the caller may close again."""
    each: BaseException | None = stopped
    while isinstance(each, asyncio.CancelledError):
        each = each.__context__
    return each if isinstance(each, KeyboardInterrupt) else None


def _unanswered(creates: set[asyncio.Future[ModelInfo]]) -> int:
    """How many of ``creates`` have no reply yet, or never will (cancelled as the loop
    ends): their models, if made, are named by no one."""
    return sum(not create.done() or create.cancelled() for create in creates)


def _ignore_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a creation whose caller was cancelled (no warning)."""
    if not task.cancelled():
        task.exception()


# The heartbeats hold their IO weakly: once nothing can send through the session (the
# client, its training clients and handles all gone), the IO is collected and the beats
# end, instead of keeping an unclosed client, its session and socket for ever.


def _beat(
    origin: weakref.ReferenceType[SyncIO],
    wait: Callable[[float], bool],
    interval: float,
    session: _Session,
) -> None:
    """The heartbeat thread: ``wait`` returns True once the client closes."""
    interval = min(interval, threading.TIMEOUT_MAX)  # Event.wait refuses a longer one
    while not wait(interval) and (io := origin()) is not None:
        beaten = session.id  # a create may replace it while the beat is on its way
        try:
            io.send(calls.send_heartbeat(beaten), ONE_BEAT)
        except Exception as exc:  # a failed heartbeat must not end the thread
            if io.refusing():  # the client is closing
                return
            _beat_failed(session, beaten, exc)
        del io


async def _abeat(
    origin: weakref.ReferenceType[AsyncIO],
    wait: Callable[[float], Awaitable[None]],
    interval: float,
    session: _Session,
) -> None:
    """The async client's heartbeat task, cancelled when the client closes."""
    while True:
        await wait(interval)
        if (io := origin()) is None:
            return
        beaten = session.id  # see _beat
        try:
            await io.send(calls.send_heartbeat(beaten), ONE_BEAT)
        except ClientClosedError:
            return
        except Exception as exc:  # a failed heartbeat must not end the task
            _beat_failed(session, beaten, exc)
        del io


def _beat_failed(session: _Session, beaten: str, exc: Exception) -> None:
    """A WARNING for a failed heartbeat of ``beaten``; for a 404 (the server ended the
    session), once, since each beat of it fails until a create opens a new one
    (``_reopen``); none once a create has replaced ``beaten``, while the beat was on its
    way: its failure is not the new session's."""
    gone = isinstance(exc, NotFoundError)
    if session.id != beaten or (gone and session.gone == beaten):
        return
    if gone:
        session.gone = beaten
    logger.warning(
        "heartbeat of session %s failed: %s%s",
        beaten,
        exc,
        "; the server may have ended it: the next model create opens a new one" if gone else "",
    )

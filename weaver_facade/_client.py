"""``ServiceClient`` and ``AsyncServiceClient``: the entry points of a training script.

They hold the connection settings, open a session lazily (on the first model
created) and keep it alive with a heartbeat every 30 s (a daemon thread for
the sync client, an asyncio task for the async one) until closed. They make
``TrainingClient``s and re-attach to operations by id.

Configuration comes from the arguments, else from the environment:
``WEAVER_BASE_URL`` (the server root; the spec's paths already start with
``/api/v1``) and ``WEAVER_API_KEY`` (sent as ``X-WEAVER-API-KEY``; without a
key no header is sent). ``WEAVER_LOG=debug`` logs every request with the key
redacted.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

import httpx
from weaver_client.client import AuthenticatedClient, Client

from . import _calls as calls
from ._errors import InvalidArgumentError
from ._io import AsyncIO, HasOptions, SyncIO
from ._lazy import LazyModule
from ._operations import (
    AsyncOperationHandle,
    OperationHandle,
    PollPolicy,
    PollSettings,
    ProgressCallback,
)
from ._training import (
    AsyncTrainingClient,
    OperationResult,
    TrainingClient,
    check_next_seq_id,
    model_info_from_wire,
    reattach_parser,
)
from ._transport import (
    AsyncClientTransport,
    AsyncRetryTransport,
    ClientTransport,
    RetryPolicy,
    RetrySettings,
    RetryTransport,
    configure_logging,
    logger,
)
from ._version import __version__
from ._wire import API_KEY_HEADER, Call, GeneratedClient, expect

if TYPE_CHECKING:
    import asyncio

    from weaver_client import models as wire
else:
    wire = LazyModule("weaver_client.models")

__all__ = ["AsyncServiceClient", "ServiceClient"]

T = TypeVar("T")

USER_AGENT = f"weaver-facade/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 4
HEARTBEAT_INTERVAL = 30.0
_RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TRAINING_MODES = ("lora", "full_ft")
_MAX_SEED = 2**32 - 1


def _base_url(base_url: str | None) -> str:
    url = base_url if base_url is not None else os.environ.get("WEAVER_BASE_URL", "")
    url = url.strip().rstrip("/")
    if not url:
        raise InvalidArgumentError(
            "no Weaver server given: pass base_url= or set WEAVER_BASE_URL "
            "(the server root, such as http://127.0.0.1:8080)"
        )
    if not url.startswith(("http://", "https://")):
        raise InvalidArgumentError(f"base_url must start with http:// or https://, got {url!r}")
    if url.endswith("/api/v1"):
        raise InvalidArgumentError(
            f"base_url is the server root; drop the trailing '/api/v1' from {url!r}"
        )
    return url


def _api_key(api_key: str | None) -> str | None:
    key = api_key if api_key is not None else os.environ.get("WEAVER_API_KEY", "")
    return key.strip() or None


def _timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def _check_id(what: str, value: object) -> str:
    if not isinstance(value, str) or not _RESOURCE_ID.fullmatch(value):
        raise InvalidArgumentError(
            f"{what} {value!r} is not valid: 1 to 128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


class _KeyHidingClient(AuthenticatedClient):
    """The generated client, with a repr that leaves the key out.

    attrs would print ``token='...'``, and tracebacks that show locals (pytest
    ``--showlocals``, rich) print the reprs of the objects in each frame.
    """

    def __repr__(self) -> str:
        return f"AuthenticatedClient(base_url={self._base_url!r}, token=<redacted>)"


class _ServiceBase(HasOptions):
    """The I/O-free half of both service clients: settings, counters, requests."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float | httpx.Timeout,
        max_retries: int,
        poll: PollSettings | PollPolicy | None,
        retry: RetryPolicy | None,
        tags: Sequence[str],
        user_metadata: Mapping[str, str] | None,
        heartbeat_interval: float,
    ) -> None:
        configure_logging()
        self._base_url = _base_url(base_url)
        self.__api_key = _api_key(api_key)
        self._timeout = _timeout(timeout)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError(f"max_retries must be an int >= 0, got {max_retries!r}")
        self._retry = retry or RetryPolicy(RetrySettings(max_retries=max_retries))
        self._poll = poll if isinstance(poll, PollPolicy) else PollPolicy(poll)
        self._tags = list(tags)
        self._user_metadata = dict(user_metadata or {})
        self._heartbeat_interval = heartbeat_interval
        self._model_seq = itertools.count(1)
        self._session_id: str | None = None
        # The client that owns the session and connections; with_options() copies share it.
        self._root: Self = self  # type: ignore[assignment]  # mypy: self is Self here

    @property
    def base_url(self) -> str:
        """The server root requests go to."""
        return self._base_url

    @property
    def session_id(self) -> str | None:
        """The session's id, once a model has been created (sessions open lazily)."""
        return self._root._session_id

    def __repr__(self) -> str:
        key = "set" if self.__api_key else "none"
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, api_key=<{key}>, "
            f"session_id={self._session_id!r})"
        )

    def _generated(
        self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport
    ) -> GeneratedClient:
        # The key header is set by AuthenticatedClient when it builds its httpx
        # client, so we hand it our transport rather than an httpx client
        # (set_httpx_client would drop the header).
        common: dict[str, Any] = {
            "base_url": self._base_url,
            "headers": {"User-Agent": USER_AGENT},
            "timeout": self._timeout,
            "httpx_args": {"transport": transport},
        }
        if self.__api_key is None:
            return Client(**common)
        return _KeyHidingClient(
            token=self.__api_key, prefix="", auth_header_name=API_KEY_HEADER, **common
        )

    def _session_call(self) -> Call[wire.Session]:
        return calls.create_session(
            tags=self._tags, user_metadata=self._user_metadata, sdk_version=USER_AGENT
        )

    def _model_call(
        self,
        session_id: str,
        base_model: object,
        training_mode: object,
        lora_rank: object,
        seed: object,
    ) -> Call[wire.Model]:
        if not isinstance(base_model, str) or not 1 <= len(base_model) <= 256:
            raise InvalidArgumentError(
                f"base_model must be a name of 1 to 256 characters, got {base_model!r}"
            )
        if training_mode not in _TRAINING_MODES:
            raise InvalidArgumentError(
                f"training_mode must be one of {list(_TRAINING_MODES)}, got {training_mode!r}"
            )
        if (
            isinstance(lora_rank, bool)
            or not isinstance(lora_rank, int)
            or not 1 <= lora_rank <= 256
        ):
            raise InvalidArgumentError(f"lora_rank must be an int from 1 to 256, got {lora_rank!r}")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
                raise InvalidArgumentError(
                    f"seed must be an int from 0 to {_MAX_SEED}, or None; got {seed!r}"
                )
            if training_mode != "lora":
                raise InvalidArgumentError(
                    "seed is part of the LoRA configuration; full_ft models take no seed"
                )
        return calls.create_model(
            session_id,
            model_seq_id=next(self._model_seq),
            base_model=base_model,
            training_mode=str(training_mode),
            lora_rank=lora_rank,
            seed=seed,
        )

    def _session_from_wire(self, session: wire.Session) -> str:
        session_id = expect("create_session", "Session", "id", session.id, str)
        self._session_id = session_id
        return session_id


class ServiceClient(_ServiceBase):
    """A connection to a Weaver server; makes ``TrainingClient``s.

    Args:
        base_url: The server root, such as ``http://127.0.0.1:8080``; default
            ``WEAVER_BASE_URL``.
        api_key: The API key; default ``WEAVER_API_KEY``. Never shown in reprs,
            logs or error messages.
        timeout: Per-request HTTP timeout in seconds (or an ``httpx.Timeout``);
            long-polls get their wait added to the read timeout.
        max_retries: Retries of a failed HTTP request (see ``RetryTransport``).
        http_client: An ``httpx.Client`` whose transport, proxies, auth and
            hooks carry our requests; the facade still adds the API key,
            ``User-Agent``, timeout and retries. It is not closed by us.
        poll: How operations are waited for (``PollSettings``, or a
            ``PollPolicy`` with its own clock).
        retry: A ``RetryPolicy`` overriding ``max_retries``.
        tags: Session tags.
        user_metadata: Session metadata.
        heartbeat_interval: Seconds between session heartbeats (0 disables them).
        on_progress: Called with every status change of every operation of
            this client (for progress displays).
        sleep: How to wait between retries and polls (tests pass a fake).

    Use as a context manager, or call ``close()``.
    """

    _io: SyncIO

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        poll: PollSettings | PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        tags: Sequence[str] = (),
        user_metadata: Mapping[str, str] | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        on_progress: ProgressCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            retry=retry,
            tags=tags,
            user_metadata=user_metadata,
            heartbeat_interval=heartbeat_interval,
        )
        inner = ClientTransport(http_client) if http_client is not None else None
        transport = RetryTransport(inner, policy=self._retry, sleep=sleep, clock=self._poll.clock)
        self._io = SyncIO(
            self._generated(transport),
            poll=self._poll,
            timeout=self._timeout,
            sleep=sleep,
            on_progress=on_progress,
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the heartbeat and close connections. Models and checkpoints stay.

        A ``with_options()`` copy closes nothing: its original owns the connections.
        """
        if self._root is not self:
            return
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=self._timeout.read or 60.0)
            self._heartbeat = None
        self._io.close()

    def _ensure_session(self) -> str:
        if self._root is not self:
            return self._root._ensure_session()
        with self._lock:
            if self._session_id is not None:
                return self._session_id
            session_id = self._session_from_wire(self._io.send(self._session_call()))
            if self._heartbeat_interval > 0:
                self._heartbeat = threading.Thread(
                    target=self._beat, args=(session_id,), name="weaver-heartbeat", daemon=True
                )
                self._heartbeat.start()
            return session_id

    def _beat(self, session_id: str) -> None:
        while not self._stop.wait(self._heartbeat_interval):
            try:
                self._io.send(calls.send_heartbeat(session_id))
            except Exception as exc:  # a failed heartbeat must not end the thread
                if self._stop.is_set():
                    return
                logger.warning("heartbeat of session %s failed: %s", session_id, exc)

    def create_training_client(
        self,
        base_model: str,
        *,
        training_mode: Literal["lora", "full_ft"] = "lora",
        lora_rank: int = 32,
        seed: int | None = None,
    ) -> TrainingClient:
        """Create a training model from ``base_model`` and return its client.

        Args:
            base_model: A supported base model, such as ``"weaver-tiny"``.
            training_mode: ``"lora"`` (default) or ``"full_ft"``.
            lora_rank: The LoRA rank, 1 to 256 (LoRA only).
            seed: The LoRA initialisation seed (LoRA only).
        """
        session_id = self._ensure_session()
        call = self._model_call(session_id, base_model, training_mode, lora_rank, seed)
        return TrainingClient(self._io, model_info_from_wire(call.operation, self._io.send(call)))

    def training_client(self, model_id: str, *, next_seq_id: int | None = None) -> TrainingClient:
        """Attach to an existing model by id.

        Checkpoint methods (save, list, get, delete, TTL, load) work at once.
        Training steps need the model's next ``seq_id``: every
        ``forward_backward`` and ``optim_step`` carries one, one counter per
        model, and a server answers a repeated ``seq_id`` with the *old*
        operation, so a client that counted from 1 again would silently skip
        steps. It comes from ``next_seq_id`` if given, else from the server's
        ``Model.next_seq_id`` (an extension the reference server provides).
        With neither, training calls are refused before any request. To resume
        after a crash, prefer a new model and ``load_state_with_optimizer``.

        Args:
            model_id: The model's id.
            next_seq_id: The ``seq_id`` of the next training step (the last one
                used on this model plus 1), to override the server's.
        """
        start = check_next_seq_id(next_seq_id)
        call = calls.get_model(_check_id("model_id", model_id))
        model = model_info_from_wire(call.operation, self._io.send(call))
        return TrainingClient(self._io, model, next_seq_id=start or model.next_seq_id)

    @overload
    def operation(self, operation_id: str) -> OperationHandle[OperationResult]: ...
    @overload
    def operation(self, operation_id: str, result_type: type[T]) -> OperationHandle[T]: ...
    def operation(
        self, operation_id: str, result_type: type[Any] | None = None
    ) -> OperationHandle[Any]:
        """Re-attach to an operation by id, for example after a crash or a timeout.

        The result parser follows ``result_type`` (``ForwardBackwardResult``,
        ``OptimStepResult``, ``Checkpoint`` or ``LoadResult``) or else the
        operation's ``kind``; with neither, ``result()`` is the raw ``response`` dict.
        """
        snapshot = self._io.snapshot(_check_id("operation_id", operation_id), None)
        return self._io.handle(snapshot, reattach_parser(snapshot, result_type))


class AsyncServiceClient(_ServiceBase):
    """The async twin of ``ServiceClient``; use ``async with`` or ``await aclose()``.

    Takes the same arguments, with ``http_client`` an ``httpx.AsyncClient`` and
    ``sleep`` a coroutine function. The heartbeat is an asyncio task.
    """

    _io: AsyncIO

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        poll: PollSettings | PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        tags: Sequence[str] = (),
        user_metadata: Mapping[str, str] | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        on_progress: ProgressCallback | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            retry=retry,
            tags=tags,
            user_metadata=user_metadata,
            heartbeat_interval=heartbeat_interval,
        )
        inner = AsyncClientTransport(http_client) if http_client is not None else None
        clock = self._poll.clock
        if sleep is None:
            transport = AsyncRetryTransport(inner, policy=self._retry, clock=clock)
        else:
            transport = AsyncRetryTransport(inner, policy=self._retry, sleep=sleep, clock=clock)
        self._io = AsyncIO(
            self._generated(transport),
            poll=self._poll,
            timeout=self._timeout,
            sleep=sleep,
            on_progress=on_progress,
        )
        import asyncio  # only the async client needs it; see _lazy

        self._lock = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the heartbeat and close connections. Models and checkpoints stay.

        A ``with_options()`` copy closes nothing: its original owns the connections.
        """
        if self._root is not self:
            return
        if self._heartbeat is not None:
            import asyncio

            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        await self._io.aclose()

    async def _ensure_session(self) -> str:
        if self._root is not self:
            return await self._root._ensure_session()
        async with self._lock:
            if self._session_id is not None:
                return self._session_id
            session_id = self._session_from_wire(await self._io.send(self._session_call()))
            if self._heartbeat_interval > 0:
                import asyncio

                self._heartbeat = asyncio.create_task(
                    self._beat(session_id), name="weaver-heartbeat"
                )
            return session_id

    async def _beat(self, session_id: str) -> None:
        import asyncio

        while True:
            await asyncio.sleep(self._heartbeat_interval)
            try:
                await self._io.send(calls.send_heartbeat(session_id))
            except Exception as exc:  # a failed heartbeat must not end the task
                logger.warning("heartbeat of session %s failed: %s", session_id, exc)

    async def create_training_client(
        self,
        base_model: str,
        *,
        training_mode: Literal["lora", "full_ft"] = "lora",
        lora_rank: int = 32,
        seed: int | None = None,
    ) -> AsyncTrainingClient:
        """See ``ServiceClient.create_training_client``."""
        session_id = await self._ensure_session()
        call = self._model_call(session_id, base_model, training_mode, lora_rank, seed)
        model = model_info_from_wire(call.operation, await self._io.send(call))
        return AsyncTrainingClient(self._io, model)

    async def training_client(
        self, model_id: str, *, next_seq_id: int | None = None
    ) -> AsyncTrainingClient:
        """See ``ServiceClient.training_client``."""
        start = check_next_seq_id(next_seq_id)
        call = calls.get_model(_check_id("model_id", model_id))
        model = model_info_from_wire(call.operation, await self._io.send(call))
        return AsyncTrainingClient(self._io, model, next_seq_id=start or model.next_seq_id)

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
        snapshot = await self._io.snapshot(_check_id("operation_id", operation_id), None)
        return self._io.handle(snapshot, reattach_parser(snapshot, result_type))

"""The only code that sends API requests: a sync and an async shell that carry out the
steps of I/O-free plans (DEVELOPERS.md, "Conventions"), a ``Call`` with the generated
client's httpx client, and wrap Operations in handles. Storage's GETs are ``_storage_http``'s.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import (
    Any,
    Generic,
    NamedTuple,
    NoReturn,
    Protocol,
    Self,
    TypedDict,
    TypeVar,
    Unpack,
    cast,
)

import httpx
from weaver_client.client import Client

from . import _calls as calls
from ._args import check_int, check_keywords, check_seconds
from ._errors import (
    APIError,
    ClientClosedError,
    EventLoopError,
    InvalidArgumentError,
    ModelTerminatedError,
    add_goes_on_note,
    running_loop,
)
from ._interrupt import between_requests, context_set
from ._lazy import asyncio, in_own_thread, wire
from ._logs import give_cli_words
from ._operations import (
    AsyncOperationHandle,
    Fetch,
    Look,
    OperationHandle,
    OperationSnapshot,
    PollPolicy,
    ProgressCallback,
    ResultParser,
    Settler,
    SleepT,
    SnapshotT,
    snapshot_from_wire,
    started_snapshot,
)
from ._plans import Build, Call, Exclusive, Pause, Plan, WireModel, adrive, drive
from ._redact import sent_frames_dropped
from ._retry import EXTENSION, REACH, REFUSED, CallOptions, Reach, reply_lost
from ._wire import (
    EARLIER_ATTEMPT,
    EarlierAttempt,
    connection_error,
    finish,
    hide_key,
    kind_schemas,
    undecodable,
)

M = TypeVar("M", bound=WireModel)
T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=BaseException)
H = TypeVar("H")


class Submission(NamedTuple, Generic[T]):
    """A request that starts an operation, and how to read the operation's result."""

    call: Call[wire.Operation]
    parse_result: ResultParser[T]
    model_id: str | None = None


class HandleParts(NamedTuple, Generic[T]):
    """An operation just started or re-attached: the parts of its handle (``handle`` makes it).

    Attributes:
        snapshot: Its first snapshot.
        parse: Its result's parser.
        look: For one known by other means than an operation (a recovered save, an
            export's artifact), a plan that sees it again.
        settle: For one whose result may not be final once it is done (a save), its
            ``Settler``.
    """

    snapshot: OperationSnapshot
    parse: ResultParser[T]
    look: Look | None = None
    settle: Settler[T] | None = None


def start_operation(submission: Submission[T]) -> Plan[HandleParts[T]]:
    """Send a call that starts an operation: its handle's parts."""
    operation: wire.Operation = yield submission.call
    snapshot = started_snapshot(submission.call.op_id, operation, submission.model_id)
    return HandleParts(snapshot=snapshot, parse=submission.parse_result)


class Pager(Protocol[T]):
    """A paged listing: while not ``done``, the next ``call`` and the items of its reply."""

    done: bool

    def call(self) -> Call[Any]: ...

    def read(self, page: Any) -> list[T]: ...


class Wakeup:
    """What a client's close interrupts: its default sleeps (before a retry, between
    polls) and the downloads that registered their ``stop``; but not the close's own
    sleeps (its terminates' retries), told by the context they run in (``closer``)."""

    def __init__(self) -> None:
        self._woken = threading.Condition()
        #: Set when the client starts closing: from then on its IO sends only the close's
        #: own calls (``_Base.closing``).
        self.closing = False
        self._stops: set[Callable[[], None]] = set()
        self._sleepers: set[asyncio.Future[None]] = set()

    def _cut_short(self) -> bool:
        return self.closing and _CLOSER.get() is not self

    def sleep(self, seconds: float) -> None:
        """``time.sleep``, ended by a close (at once, once one has begun)."""
        with self._woken:
            self._woken.wait_for(self._cut_short, min(seconds, threading.TIMEOUT_MAX))

    async def asleep(self, seconds: float) -> None:
        """``asyncio.sleep``, ended by a close (at once, once one has begun)."""
        loop = running_loop()
        woken = loop.create_future()
        timer = loop.call_later(seconds, _settle, woken)
        with self._woken:
            if self._cut_short():
                _settle(woken)
            elif _CLOSER.get() is not self:
                self._sleepers.add(woken)
        try:
            await woken
        finally:
            timer.cancel()
            with self._woken:
                self._sleepers.discard(woken)

    @contextlib.contextmanager
    def stopping(self, stop: Callable[[], None]) -> Iterator[None]:
        """Call ``stop`` when a close begins (at once if one has) until the block ends."""
        with self._woken:
            self._stops.add(stop)
            closing = self.closing
        try:
            if closing:
                stop()
            yield
        finally:
            with self._woken:
                self._stops.discard(stop)

    def begin_closing(self) -> None:
        """The close begins: from now on only its own calls are sent; wake the sleepers
        and stop the downloads."""
        with self._woken:
            self.closing = True
            self._woken.notify_all()
            stops, sleepers = list(self._stops), list(self._sleepers)
        for stop in stops:
            stop()
        for woken in sleepers:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                woken.get_loop().call_soon_threadsafe(_settle, woken)

    @contextlib.contextmanager
    def closer(self) -> Iterator[None]:
        """The close (``begin_closing``): the block's own sleeps (in its thread or task)
        are not cut short."""
        with context_set(_CLOSER, self):
            self.begin_closing()
            yield


# A call refused before the close ended: a close cut short (its heartbeat stopped) leaves
# the client so until a close runs to its end.
_CLOSING = " (its close runs, or a Ctrl-C or a cancel cut it short: close it again)"

_CLOSER: contextvars.ContextVar[Wakeup | None] = contextvars.ContextVar(
    "weaver_closer", default=None
)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Base(Generic[SleepT, SnapshotT]):
    """What both shells share; ``SleepT`` is the type of their injectable sleep,
    ``SnapshotT`` that of what their ``snapshot`` (and ``run`` of a look) gives."""

    lock: Callable[[], Any]  # makes a lock of the shell's kind
    # Each shell's own, sync or async (``_handle`` calls them).
    run: Callable[[Plan[OperationSnapshot]], SnapshotT]
    snapshot: Callable[[str, float | None, float | None, str | None], SnapshotT]

    def __init__(
        self,
        generated: Client,
        *,
        poll: PollPolicy,
        timeout: httpx.Timeout,
        sleep: SleepT,
        on_progress: ProgressCallback | None,
        wakeup: Wakeup,
    ) -> None:
        self.generated = generated
        self.wakeup = wakeup
        self.poll = poll
        self.timeout = timeout
        self._sleep = sleep
        self.on_progress = on_progress
        self.options = CallOptions()
        # On ``poll.clock``: when every call of this IO must have ended (``until``).
        self._deadline: float | None = None
        # One flag each for an IO and its with_options copies.
        self._opened = [False]
        self._closed = [False]
        self._pid = os.getpid()  # the process whose connections these are
        self._closer = False  # a copy made by ``closing``: the close's own
        # The event loop an async IO is bound to, from its first call (one for its copies).
        self._loop: list[object] = [None]
        # The IO its copies were made from; they keep it alive (see ``origin``).
        self._origin = self

    @property
    def closed(self) -> bool:
        # Also in a process forked from this one's: its connections are shared with the
        # maker, so a reply could reach either process; its models are not the child's.
        return self._closed[0] or self.forked()

    def forked(self) -> bool:
        return os.getpid() != self._pid

    @property
    def origin(self) -> weakref.ReferenceType[Self]:
        """A weak reference that lives as long as this IO or any copy of it can send."""
        return weakref.ref(cast(Self, self._origin))

    def if_never_closed(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once nothing can send through this IO (see ``origin``), or at
        exit, unless it was closed by then or this is a forked child (its maker's IO)."""
        closed, pid = self._closed, self._pid  # not the IO: its finalizer must not hold it

        def unclosed() -> None:
            if not closed[0] and os.getpid() == pid:
                callback()

        weakref.finalize(self._origin, unclosed)

    def with_options(self, *, timeout: float | None, max_retries: int | None) -> Self:
        """A copy that sends every call with these ``CallOptions``, on the same connections.

        ``None`` keeps this IO's value. Only the original is closed, by the client that made it.
        """
        clone = copy.copy(self)
        clone.options = CallOptions(
            timeout=self.options.timeout if timeout is None else timeout,
            max_retries=self.options.max_retries if max_retries is None else max_retries,
        )
        return clone

    def stopping_retries(self, stop: Callable[[], bool]) -> Self:
        """A copy whose requests are not sent again once ``stop()`` is true: the attempt
        on its way ends the call (a create after a first Ctrl-C)."""
        clone = copy.copy(self)
        clone.options = self.options._replace(stop=stop)
        return clone

    def until(self, seconds: float, *, max_retries: int | None = None) -> Self:
        """A copy whose calls all end within ``seconds`` from now, retries included: one
        deadline shared by every call, where ``with_options`` gives each call its own."""
        clone = self.with_options(timeout=None, max_retries=max_retries)
        clone._deadline = self.poll.clock() + seconds
        return clone

    def time_left(self) -> float | None:
        """Seconds before the deadline ``until`` set, or ``None`` without one."""
        return None if self._deadline is None else max(0.0, self._deadline - self.poll.clock())

    def pause(self, step: Pause) -> float | None:
        """The seconds to sleep for ``step``: the poll backoff, never under
        ``min_interval``; ``None`` when the deadline would come before a look after it."""
        seconds = max(self.poll.settings.min_interval, self.poll.backoff(step.attempt))
        left = self.time_left()
        return None if left is not None and left <= seconds else seconds

    def whole(self) -> Self:
        """For a call made of several requests (a listing, a lookup): a copy whose requests
        share the call's ``timeout`` as one deadline, as ``with_options`` promises. Taken
        before the call's first request is built, since building it counts too: a first
        call's request imports the generated models as it is built (``_lazy``), tenths of
        a second."""
        timeout = self.options.timeout
        return self if timeout is None or self._deadline is not None else self.until(timeout)

    @contextlib.contextmanager
    def closing(self, seconds: float) -> Iterator[Self]:
        """Refuse every later call but those of the copy given, whose calls all end
        within ``seconds`` (``until``), and are not retried once the server cannot be
        reached: the close's own. Wakes what waits to send."""
        clone = self.until(seconds)
        clone.options = clone.options._replace(retry_unreachable=False)
        clone._closer = True
        with self.wakeup.closer():
            yield clone

    def refusing(self) -> bool:
        """Whether this IO sends no more: closed, or closing and not the close itself."""
        return self.closed or (self.wakeup.closing and not self._closer)

    def check_open(self) -> None:
        """Raise ``ClientClosedError`` when ``refusing``: for a call, and for a ``with``."""
        if self.forked():
            raise ClientClosedError(
                f"the Weaver client was made in process {self._pid}, which this one was "
                "forked from, and its connections belong there (a reply could reach either "
                "process): it sends nothing here; make a ServiceClient in this process "
                "(training_client(model_id) reaches a model from there)"
            )
        if self.refusing():
            raise ClientClosedError(
                "the Weaver client is closed" + ("" if self.closed else _CLOSING)
            )

    @contextlib.contextmanager
    def _sending(self, call: Call[Any], options: CallOptions | None) -> Iterator[dict[str, Any]]:
        """The arguments of ``call``'s request, refused once closing; the failures of
        sending it, as facade errors."""
        self.check_open()
        self._opened[0] = True
        options = options or self.options
        if not call.retried:
            options = options._replace(max_retries=0)
        left = self.time_left()
        if left is not None and (options.timeout is None or options.timeout > left):
            options = options._replace(timeout=left)
        reach = Reach()

        def noted(error: E, why: str) -> E:
            # The server may act on a request it got: say what it may have done (and,
            # once closed, that the looks it names need another client).
            if call.on_its_way is not None and reach.maybe:
                then = "; this client is closed: look from a new one" if why == "closed" else ""
                note = f"{why} while {call.on_its_way}"
                if call.lost_replies is not None:
                    note = call.lost_replies(reach.replies_lost, why)  # counted
                add_goes_on_note(error, note + then)
                give_cli_words(error)
            return error

        try:
            # The retry transport asks ``refusing`` again before each retry.
            extensions = {EXTENSION: options, REFUSED: self.refusing, REACH: reach}
            yield {**call.request, "extensions": extensions}
        except ClientClosedError as exc:  # the retry transport's, which knows only the route
            sent_frames_dropped(exc)  # held behind ours all the same (``__context__``)
            raise noted(ClientClosedError(f"{call.op_id}: {exc}"), "closed") from None
        except httpx.TransportError as exc:
            hide_key(exc)
            if self.refusing():  # the close closed the connections under the request
                closed = f"{call.op_id}: the Weaver client was closed meanwhile"
                raise noted(ClientClosedError(closed), "closed") from exc
            raise noted(connection_error(call.op_id, exc), "no reply came") from exc
        except httpx.DecodingError as exc:
            hide_key(exc)
            raise undecodable(call.op_id, exc) from exc
        except (KeyboardInterrupt, asyncio.CancelledError) as exc:
            noted(exc, "interrupted" if isinstance(exc, KeyboardInterrupt) else "cancelled")
            sent_frames_dropped(exc)
            raise
        except UnicodeEncodeError as exc:
            # JSON goes out as UTF-8, which has no lone surrogates. Raised while the
            # request is built, so nothing was sent.
            sent_frames_dropped(exc)  # held behind ours too: httpx's frames hold the key
            bad = exc.object[exc.start : exc.end]
            raise InvalidArgumentError(
                f"{call.op_id}: a text argument holds {bad!r}, a lone surrogate, which is "
                "not valid Unicode text and cannot be sent"
            ) from None

    def _finish(self, call: Call[M], response: httpx.Response) -> M:
        """``finish``; a model the client's own close terminated under the request is
        that close's doing."""
        earlier = response.extensions.get(EARLIER_ATTEMPT)
        lost = earlier.replies_lost if isinstance(earlier, EarlierAttempt) else 0
        try:
            made = finish(call, self.generated, response)
        except ModelTerminatedError as exc:
            if not self.refusing():
                raise
            raise ClientClosedError(
                f"{call.op_id}: its model was terminated by the client's close"
            ) from exc
        except APIError as exc:
            # Refused after a lost reply, or with a proxy's 502 or 504, a reply lost too:
            # what those attempts may have made, as when every attempt lost its reply (a
            # create's model, which no WARNING names then).
            own = reply_lost(response)
            if call.lost_replies is not None and (lost or own):
                why = f"HTTP {response.status_code} came" if own else None
                add_goes_on_note(exc, call.lost_replies(lost + own, why))
                give_cli_words(exc)
            raise
        if call.after_lost_reply is not None:
            call.after_lost_reply(made, lost)
        return made

    def _poll(
        self, operation_id: str, wait: float | None, budget: float | None, seen: str | None
    ) -> tuple[Call[wire.Operation], CallOptions | None]:
        """A poll, and its options: inside a wait, one attempt within the wait's budget
        (the poller retries polls, inside its deadline); alone, the IO's own options."""
        call = calls.get_operation(
            operation_id, wait=wait, timeout=self.timeout, seen_revision=seen
        )
        if budget is None:
            return call, None
        return call, CallOptions(timeout=budget, max_retries=0)

    def _within(self, budget: float | None) -> Self:
        """This IO; inside a wait, a copy whose calls are bounded as ``_poll``'s are, all
        within the one budget (for a handle that looks again through a plan, such as a
        recovered save's list of several pages)."""
        return self if budget is None else self.until(budget, max_retries=0)

    def _handle(
        self,
        cls: Callable[..., H],
        parts: HandleParts[T],
        polled: bool,
        reattach_as: str | None,
    ) -> H:
        """The shell's ``handle``, a ``cls``: its fetches call the shell's own ``snapshot``
        and ``run``, sync or async."""
        settle = parts.settle

        def seen_again(again: Look) -> Fetch[SnapshotT]:
            return lambda _wait, budget, _seen: self._within(budget).run(again())

        def poll_again(wait: float | None, budget: float | None, seen: str | None) -> SnapshotT:
            return self.snapshot(parts.snapshot.id, wait, budget, seen)

        return cls(
            parts.snapshot,
            fetch=seen_again(parts.look) if parts.look else poll_again,
            parse_result=parts.parse,
            policy=self.poll,
            sleep=self._sleep,
            on_progress=self.on_progress,
            closing=self.refusing,
            result_in_response=parts.look is None and not polled,
            long_poll=parts.look is None,
            settle=settle,
            fetch_of=seen_again,
            # What a re-attach passes to wait as this wait does: the type a re-attach was
            # given, else the kind (the request's, for a server that says none) tells.
            reattach_as=settle.result_type
            if settle is not None
            else reattach_as or kind_schemas().get(parts.snapshot.kind or ""),
        )


class _Limits(TypedDict, total=False):
    """The keywords of ``with_options()``: a ``TypedDict``, as the clients' ``ClientOptions``
    is, so that a type checker refuses a typo too (at run time: ``check_keywords``)."""

    timeout: float | None
    max_retries: int | None


class HasOptions:
    """``with_options()`` for every client that sends through an IO (``_io``)."""

    _io: _Base[Any, Any]

    def with_options(self, **limits: Unpack[_Limits]) -> Self:
        """A copy of this client whose calls have these limits; it shares the connections.

        Made in microseconds: the connection pool, session, settings and
        training-step counter are shared; closing the copy closes nothing.

        Args:
            timeout: A deadline for each call, in seconds, retries included:
                every attempt's timeouts and every retry sleep are capped by the
                time left, so a call (``operation(id)``, a list, a get, the
                request that starts an operation) ends within it. Waiting for an
                operation has its own deadline: ``result(timeout=...)``.
            max_retries: Retries of each failed request (0: none), and of a download's
                file from storage when larger than its own (``DownloadSettings``).
        """
        check_keywords(
            f"{type(self).__name__}.with_options", limits, tuple(_Limits.__annotations__)
        )
        timeout, max_retries = limits.get("timeout"), limits.get("max_retries")
        clone = copy.copy(self)
        clone._io = self._io.with_options(
            timeout=None if timeout is None else check_seconds("timeout", timeout),
            max_retries=None if max_retries is None else check_int("max_retries", max_retries, 0),
        )
        return clone

    def __copy__(self) -> Self:
        clone = object.__new__(type(self))  # not through ``__reduce__``, which refuses
        clone.__dict__.update(self.__dict__)
        return clone

    def __reduce__(self) -> NoReturn:
        # Else pickle named a lock or an SSLContext, which said nothing of what to do.
        raise TypeError(
            f"{type(self).__name__} cannot be pickled: its connections, session and "
            "heartbeat belong to this process; make a ServiceClient in the other process "
            "(training_client(model_id) reaches a model from there)"
        )


class SyncIO(_Base[Callable[[float], None], OperationSnapshot]):
    """Sends calls with ``httpx.Client`` and waits with ``OperationHandle``."""

    @staticmethod
    def lock() -> threading.Lock:
        return threading.Lock()

    def holding(
        self, lock: threading.Lock, late: Callable[[float | None], Exception], run: Callable[[], R]
    ) -> R:
        """``run()`` holding ``lock``, taken within this call's time left, else raise
        ``late(the seconds waited)``. No request is on its way while it waits: a held
        Ctrl-C ends it."""
        left = self.time_left()
        # At most TIMEOUT_MAX: a longer one (``inf``, which ``with_options`` takes) raised
        # OverflowError.
        timeout = -1 if left is None else min(left, threading.TIMEOUT_MAX)
        # Python raises a Ctrl-C where it looks for signals: as a C call returns (losing
        # ``taken = lock.acquire()``'s True) and as a function starts (a context manager's
        # ``__exit__`` too). So ``extend`` records the lock taken, in C, and ``finally``
        # calls nothing before the release: no Ctrl-C leaves the lock held.
        taken: list[bool] = []
        try:
            with between_requests():
                taken.extend(map(lock.acquire, [True], [timeout]))
            if not taken[0]:
                raise late(left)
            return run()
        finally:
            if taken == [True]:
                lock.release()

    def send(self, call: Call[M], options: CallOptions | None = None) -> M:
        """Send one call; return its generated model or raise a facade error."""
        with self._sending(call, options) as request:
            response = self.generated.get_httpx_client().request(**request)
        return self._finish(call, response)

    def snapshot(
        self,
        operation_id: str,
        wait: float | None,
        budget: float | None = None,
        seen: str | None = None,
    ) -> OperationSnapshot:
        """Get an operation, long-polling up to ``wait`` seconds (see ``Fetch``)."""
        # Alone, within the call's timeout from here, before its request is built (``whole``).
        io = self if budget is not None else self.whole()
        call, options = io._poll(operation_id, wait, budget, seen)
        return snapshot_from_wire(call.op_id, io.send(call, options))

    def handle(
        self, parts: HandleParts[T], *, polled: bool = False, reattach_as: str | None = None
    ) -> OperationHandle[T]:
        """A handle on an operation already seen once, of its ``parts`` (``polled``: seen by its
        own GET, a re-attach, so a result it lacks is not asked for again; ``reattach_as``:
        the result type a re-attach was given)."""
        return self._handle(OperationHandle[T], parts, polled, reattach_as)

    def submit(self, submission: Submission[T]) -> OperationHandle[T]:
        """Send a call that starts an operation and return its handle."""
        return self.handle(self.run(start_operation(submission)))

    def pages(self, pager: Pager[T]) -> Iterator[T]:
        """Yield a listing's items, fetching each page when the one before is used up."""
        while not pager.done:
            io = self.whole()  # each page within its timeout from before it is built
            yield from pager.read(io.send(pager.call()))

    def run(self, plan: Plan[R]) -> R:
        """Carry out a plan's steps and return its result, within one deadline (``whole``)."""
        return drive(plan, self.whole().perform)

    def perform(self, step: object) -> Any:
        """One step of a plan: send a ``Call``, start a ``Submission`` and wait for its
        result, sleep a ``Pause`` (``pause``), run an ``Exclusive`` plan, or ``Build``."""
        if isinstance(step, Build):
            return step.make()
        if isinstance(step, Submission):
            return self.submit(step).result()
        if isinstance(step, Exclusive):
            return self.holding(
                step.lock, step.late, functools.partial(drive, step.plan, self.perform)
            )
        if isinstance(step, Pause):
            if (seconds := self.pause(step)) is not None:
                self._sleep(seconds)
            return seconds is not None
        return self.send(cast(Call[Any], step))

    def close(self) -> None:
        if not self.closed and self._opened[0]:
            self.generated.get_httpx_client().close()
        self._closed[0] = True


class AsyncIO(_Base[Callable[[float], Awaitable[None]], Awaitable[OperationSnapshot]]):
    """Sends calls with ``httpx.AsyncClient`` and waits with ``AsyncOperationHandle``."""

    @staticmethod
    def lock() -> asyncio.Lock:
        """A lock of this shell's kind (first come, first served)."""
        return asyncio.Lock()

    @property
    def bound(self) -> bool:
        """Whether a call has bound this IO to its event loop."""
        return self._loop[0] is not None

    def other_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop this IO is bound to, when that is not the running one (else ``None``);
        the first call binds it."""
        running = running_loop()
        bound = self._loop[0]
        if bound is None:
            self._loop[0] = running
            return None
        return None if bound is running else cast(asyncio.AbstractEventLoop, bound)

    async def holding(
        self,
        lock: asyncio.Lock,
        late: Callable[[float | None], Exception],
        run: Callable[[], Awaitable[R]],
    ) -> R:
        """See ``SyncIO.holding``."""
        left = self.time_left()
        # See there: here an await's result is stored with no look for signals between, and
        # a cancel comes only where a task waits. A Ctrl-C inside asyncio's own Lock code is
        # asyncio's: ``asyncio.run`` makes the first one a cancel.
        taken = False
        try:
            try:
                async with asyncio.timeout(left):
                    taken = await lock.acquire()
            except TimeoutError:
                raise late(left) from None
            return await run()
        finally:
            if taken:
                lock.release()

    async def send(self, call: Call[M], options: CallOptions | None = None) -> M:
        """See ``SyncIO.send``."""
        if not self.refusing() and self.other_loop() is not None:
            raise EventLoopError(
                f"{call.op_id}: this async Weaver client was first used on another "
                "event loop, to which its connections and heartbeat belong; nothing was "
                "sent (make one client per asyncio.run())"
            )
        with self._sending(call, options) as request:
            response = await self.generated.get_async_httpx_client().request(**request)
        return self._finish(call, response)

    async def snapshot(
        self,
        operation_id: str,
        wait: float | None,
        budget: float | None = None,
        seen: str | None = None,
    ) -> OperationSnapshot:
        """See ``SyncIO.snapshot``."""
        call, options = self._poll(operation_id, wait, budget, seen)
        return snapshot_from_wire(call.op_id, await self.send(call, options))

    def handle(
        self, parts: HandleParts[T], *, polled: bool = False, reattach_as: str | None = None
    ) -> AsyncOperationHandle[T]:
        """See ``SyncIO.handle``."""
        return self._handle(AsyncOperationHandle[T], parts, polled, reattach_as)

    async def submit(self, submission: Submission[T]) -> AsyncOperationHandle[T]:
        """See ``SyncIO.submit``."""
        return self.handle(await self.run(start_operation(submission)))

    async def pages(self, pager: Pager[T], first: Self | None = None) -> AsyncIterator[T]:
        """See ``SyncIO.pages``; ``first`` is the IO of the first page, whose deadline began
        with the call (``_client._on_asyncio``)."""
        io = first or self.whole()
        while not pager.done:
            for item in pager.read(await io.send(pager.call())):
                yield item
            io = self.whole()

    async def run(self, plan: Plan[R]) -> R:
        """See ``SyncIO.run``."""
        return await adrive(plan, self.whole().perform)

    async def perform(self, step: object) -> Any:
        """See ``SyncIO.perform``."""
        if isinstance(step, Build):
            return await in_own_thread(step.make, "weaver-request")
        if isinstance(step, Submission):
            return await (await self.submit(step)).result()
        if isinstance(step, Exclusive):
            return await self.holding(
                step.lock, step.late, functools.partial(adrive, step.plan, self.perform)
            )
        if isinstance(step, Pause):
            if (seconds := self.pause(step)) is not None:
                await self._sleep(seconds)
            return seconds is not None
        return await self.send(cast(Call[Any], step))

    def abandon(self) -> None:
        """Closed, its connections left to the collector: they belong to a stopped loop."""
        self._closed[0] = True

    async def aclose(self) -> None:
        if not self.closed and self._opened[0]:
            await self.generated.get_async_httpx_client().aclose()
        self._closed[0] = True

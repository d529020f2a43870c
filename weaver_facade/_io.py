"""The only code that sends requests: a sync and an async shell around ``Call``.

Everything else (which request, how to read the reply, when to poll again)
is decided in I/O-free code; these shells send ``Call``s with the generated
client's httpx client and wrap Operations in handles.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs
import httpx

from . import _calls as calls
from ._errors import InvalidArgumentError
from ._lazy import LazyModule
from ._operations import (
    AsyncOperationHandle,
    OperationHandle,
    OperationSnapshot,
    PollPolicy,
    ProgressCallback,
    ResultParser,
    snapshot_from_wire,
)
from ._wire import Call, GeneratedClient, WireModel, connection_error, finish

if TYPE_CHECKING:
    from weaver_client import models as wire
else:
    wire = LazyModule("weaver_client.models")

__all__ = ["AsyncIO", "Submission", "SyncIO"]

M = TypeVar("M", bound=WireModel)
T = TypeVar("T")


@attrs.frozen
class Submission(Generic[T]):
    """A request that starts an operation, and how to read the operation's result."""

    call: Call[wire.Operation]
    parse_result: ResultParser[T]


def unsendable_text(operation: str, exc: UnicodeEncodeError) -> InvalidArgumentError:
    """A text argument that cannot be sent: JSON goes out as UTF-8, which has no lone
    surrogates. Raised while the request is built, so nothing was sent."""
    bad = exc.object[exc.start : exc.end]
    return InvalidArgumentError(
        f"{operation}: a text argument holds {bad!r}, a lone surrogate, which is not valid "
        "Unicode text and cannot be sent"
    )


class _Base:
    def __init__(
        self,
        generated: GeneratedClient,
        *,
        poll: PollPolicy,
        timeout: httpx.Timeout,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.generated = generated
        self.poll = poll
        self.timeout = timeout
        self.on_progress = on_progress
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("the Weaver client is closed")

    def _get_operation(self, operation_id: str, wait: float | None) -> Call[wire.Operation]:
        return calls.get_operation(operation_id, wait=wait, timeout=self.timeout)


class SyncIO(_Base):
    """Sends calls with ``httpx.Client`` and waits with ``OperationHandle``."""

    def __init__(
        self,
        generated: GeneratedClient,
        *,
        poll: PollPolicy,
        timeout: httpx.Timeout,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(generated, poll=poll, timeout=timeout, on_progress=on_progress)
        self._sleep = sleep
        self._opened = False

    def send(self, call: Call[M]) -> M:
        """Send one call; return its generated model or raise a facade error."""
        self._check_open()
        self._opened = True
        try:
            response = self.generated.get_httpx_client().request(**call.request)
        except httpx.TransportError as exc:
            raise connection_error(call.operation, exc) from exc
        except UnicodeEncodeError as exc:
            raise unsendable_text(call.operation, exc) from None
        return finish(call, self.generated, response)

    def snapshot(self, operation_id: str, wait: float | None) -> OperationSnapshot:
        """Get an operation, long-polling up to ``wait`` seconds."""
        call = self._get_operation(operation_id, wait)
        return snapshot_from_wire(call.operation, self.send(call))

    def handle(
        self,
        snapshot: OperationSnapshot,
        parse: ResultParser[T],
        fetch: Callable[[float | None], OperationSnapshot] | None = None,
    ) -> OperationHandle[T]:
        """A handle on an operation already seen once (``fetch``: how to look again)."""
        return OperationHandle(
            snapshot,
            fetch=fetch or (lambda wait: self.snapshot(snapshot.id, wait)),
            parse_result=parse,
            policy=self.poll,
            sleep=self._sleep,
            on_progress=self.on_progress,
        )

    def submit(self, submission: Submission[T]) -> OperationHandle[T]:
        """Send a call that starts an operation and return its handle."""
        operation = self.send(submission.call)
        snapshot = snapshot_from_wire(submission.call.operation, operation)
        return self.handle(snapshot, submission.parse_result)

    def sleep(self, seconds: float) -> None:
        """Wait between looks at something (the client's injectable sleep)."""
        self._sleep(seconds)

    def close(self) -> None:
        if not self.closed and self._opened:
            self.generated.get_httpx_client().close()
        self.closed = True


class AsyncIO(_Base):
    """Sends calls with ``httpx.AsyncClient`` and waits with ``AsyncOperationHandle``."""

    def __init__(
        self,
        generated: GeneratedClient,
        *,
        poll: PollPolicy,
        timeout: httpx.Timeout,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(generated, poll=poll, timeout=timeout, on_progress=on_progress)
        self._sleep = sleep
        self._opened = False

    async def send(self, call: Call[M]) -> M:
        """Send one call; return its generated model or raise a facade error."""
        self._check_open()
        self._opened = True
        try:
            response = await self.generated.get_async_httpx_client().request(**call.request)
        except httpx.TransportError as exc:
            raise connection_error(call.operation, exc) from exc
        except UnicodeEncodeError as exc:
            raise unsendable_text(call.operation, exc) from None
        return finish(call, self.generated, response)

    async def snapshot(self, operation_id: str, wait: float | None) -> OperationSnapshot:
        """Get an operation, long-polling up to ``wait`` seconds."""
        call = self._get_operation(operation_id, wait)
        return snapshot_from_wire(call.operation, await self.send(call))

    def handle(
        self,
        snapshot: OperationSnapshot,
        parse: ResultParser[T],
        fetch: Callable[[float | None], Awaitable[OperationSnapshot]] | None = None,
    ) -> AsyncOperationHandle[T]:
        """A handle on an operation already seen once (``fetch``: how to look again)."""
        return AsyncOperationHandle(
            snapshot,
            fetch=fetch or (lambda wait: self.snapshot(snapshot.id, wait)),
            parse_result=parse,
            policy=self.poll,
            sleep=self._sleep,
            on_progress=self.on_progress,
        )

    async def submit(self, submission: Submission[T]) -> AsyncOperationHandle[T]:
        """Send a call that starts an operation and return its handle."""
        operation = await self.send(submission.call)
        snapshot = snapshot_from_wire(submission.call.operation, operation)
        return self.handle(snapshot, submission.parse_result)

    async def asleep(self, seconds: float) -> None:
        """Wait between looks at something (the client's injectable sleep)."""
        if self._sleep is None:
            import asyncio  # only the async client needs it; see _lazy

            await asyncio.sleep(seconds)
        else:
            await self._sleep(seconds)

    async def aclose(self) -> None:
        if not self.closed and self._opened:
            await self.generated.get_async_httpx_client().aclose()
        self.closed = True

"""Event-driven long-poll: waiting requests park an asyncio Future, workers resolve it.

Each waiter remembers the event loop it runs on, because in-process test
clients and uvicorn may run requests on different loops and threads. A
worker wakes it with ``loop.call_soon_threadsafe``; nothing sleeps or polls.

An operation's ``revision`` (the long-poll extension) is a digest of what a
waiting client shows: its status and ``pending_info``, but not
``wait_seconds``, which counts down as time passes and so is no change. A
long-poll with ``seen_revision`` answers as soon as the revision differs from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from typing import Any

__all__ = ["Waiters", "revision"]


def revision(status: str, pending_info: Any) -> str:
    """Changes exactly when ``status`` or ``pending_info`` (other than its ``wait_seconds``)
    does; stateless across restarts."""
    if isinstance(pending_info, dict):
        pending_info = {k: v for k, v in pending_info.items() if k != "wait_seconds"}
    text = json.dumps([status, pending_info], sort_keys=True, separators=(",", ":"))
    return "r-" + hashlib.sha256(text.encode()).hexdigest()[:16]


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # op id -> (loop, future, the model whose changes wake it, or None: only its end)
        self._waiting: dict[
            str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[bool], str | None]]
        ] = {}

    def register(self, op_id: str, *, changes_of: str | None = None) -> asyncio.Future[bool]:
        """A future that resolves when ``notify(op_id)`` is called, to ``True`` (answer
        now), or, with ``changes_of`` (the operation's model), on
        ``notify_changes(model_id)`` to ``False`` (look whether your operation changed);
        call on the waiting loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._lock:
            self._waiting.setdefault(op_id, []).append((loop, future, changes_of))
        return future

    def unregister(self, op_id: str, future: asyncio.Future[bool]) -> None:
        with self._lock:
            waiters = self._waiting.get(op_id)
            if waiters is None:
                return
            waiters[:] = [w for w in waiters if w[1] is not future]
            if not waiters:
                del self._waiting[op_id]

    def notify(self, op_id: str) -> None:
        with self._lock:
            waiters = self._waiting.pop(op_id, [])
        _wake(waiters, final=True)

    def notify_changes(self, model_id: str) -> None:
        """Wake the waiters that asked for changes (``seen_revision``) of operations of
        ``model_id``: one of its operations started, so its queue moved, and each one
        looks at its own. Only that model's queue changed, so no other waiter wakes."""
        with self._lock:
            woken = [w for ws in self._waiting.values() for w in ws if w[2] == model_id]
            for op_id in list(self._waiting):
                rest = [w for w in self._waiting[op_id] if w[2] != model_id]
                if rest:
                    self._waiting[op_id] = rest
                else:
                    del self._waiting[op_id]
        _wake(woken, final=False)

    def notify_all(self) -> None:
        with self._lock:
            op_ids = list(self._waiting)
        for op_id in op_ids:
            self.notify(op_id)

    def count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())


def _wake(
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[bool], str | None]],
    *,
    final: bool,
) -> None:
    for loop, future, _ in waiters:
        # RuntimeError: that loop is closed, so its request is gone.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, future, final)


def _resolve(future: asyncio.Future[bool], final: bool) -> None:
    if not future.done():
        future.set_result(final)

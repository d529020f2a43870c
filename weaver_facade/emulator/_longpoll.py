"""Event-driven long-poll: waiting requests park an asyncio Future, workers resolve it.

Each waiter remembers the event loop it runs on, because in-process test
clients and uvicorn may run requests on different loops and threads. A
worker wakes it with ``loop.call_soon_threadsafe``; nothing sleeps or polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["Waiters"]


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    def register(self, op_id: str) -> asyncio.Future[None]:
        """A future that resolves when ``notify(op_id)`` is called; call on the waiting loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiting.setdefault(op_id, []).append((loop, future))
        return future

    def unregister(self, op_id: str, future: asyncio.Future[None]) -> None:
        with self._lock:
            waiters = self._waiting.get(op_id)
            if waiters is None:
                return
            waiters[:] = [(lp, f) for lp, f in waiters if f is not future]
            if not waiters:
                del self._waiting[op_id]

    def notify(self, op_id: str) -> None:
        with self._lock:
            waiters = self._waiting.pop(op_id, [])
        for loop, future in waiters:
            # RuntimeError: that loop is closed, so its request is gone.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    def notify_all(self) -> None:
        with self._lock:
            op_ids = list(self._waiting)
        for op_id in op_ids:
            self.notify(op_id)

    def count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiting.values())


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

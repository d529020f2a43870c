"""Per-model FIFO queues served by a small pool of worker threads.

A model is in the ready queue at most once, so its operations run one at a
time in submission order, while different models run in parallel. Training
never runs on an event loop: requests only enqueue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Job", "Scheduler"]

log = logging.getLogger("weaver_facade.emulator")


@dataclass(frozen=True)
class Job:
    op_id: str
    kind: str
    run: Callable[[], None]


class Scheduler:
    def __init__(
        self,
        workers: int,
        latency_of: Callable[[str], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._latency_of = latency_of
        self._clock = clock
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queues: dict[str, deque[Job]] = {}
        self._running: dict[str, tuple[Job, float]] = {}  # model -> (job, when it started)
        self._ready: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._loop, name=f"weaver-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, model_id: str, job: Job) -> None:
        with self._lock:
            q = self._queues.setdefault(model_id, deque())
            idle = not q and model_id not in self._running
            q.append(job)
            if idle:
                self._ready.put(model_id)

    def queue_position(self, model_id: str, op_id: str) -> tuple[int, float] | None:
        """(operations ahead, estimated seconds until it starts), or None if not queued.

        The running operation counts only what is left of its latency."""
        with self._lock:
            q = self._queues.get(model_id, deque())
            ahead = 0
            seconds = 0.0
            running = self._running.get(model_id)
            if running is not None:
                job, started = running
                ahead = 1
                seconds = max(0.0, self._latency_of(job.kind) - (self._clock() - started))
            for job in q:
                if job.op_id == op_id:
                    return ahead, seconds
                ahead += 1
                seconds += self._latency_of(job.kind)
        return None

    def clear(self, timeout: float = 30.0) -> None:
        """Drop every queued job and wait for the running ones to finish."""
        with self._lock:
            self._queues.clear()
            self._idle.wait_for(lambda: not self._running, timeout=timeout)

    def close(self) -> None:
        self.clear()
        for _ in self._threads:
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            model_id = self._ready.get()
            if model_id is None:
                return
            with self._lock:
                q = self._queues.get(model_id)
                if not q:
                    continue
                job = q.popleft()
                self._running[model_id] = (job, self._clock())
            try:
                job.run()
            except Exception:  # a job records its own failures; this is a last resort
                log.exception("operation %s crashed", job.op_id)
            finally:
                with self._lock:
                    del self._running[model_id]
                    q = self._queues.get(model_id)
                    if q:
                        self._ready.put(model_id)
                    else:
                        self._queues.pop(model_id, None)
                    self._idle.notify_all()

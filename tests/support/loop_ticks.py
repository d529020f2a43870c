"""A task ticking on the event loop, to see how long something held the loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def loop_ticks(interval: float = 0.002) -> AsyncIterator[list[tuple[float, float]]]:
    """The ticks of a task on the running loop while the block runs, as (start, end)
    monotonic times: a tick far longer than ``interval`` is a time the loop was held."""
    ticks: list[tuple[float, float]] = []
    ticking, finished = asyncio.Event(), asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not finished.is_set():
            ticking.set()
            await asyncio.sleep(interval)
            now = time.monotonic()
            ticks.append((last, now))
            last = now

    ticker = asyncio.create_task(tick())
    await ticking.wait()
    try:
        yield ticks
    finally:
        finished.set()
        await ticker


def longest(ticks: list[tuple[float, float]]) -> float:
    """The longest of ``ticks``."""
    return max(end - start for start, end in ticks)

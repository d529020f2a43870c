"""B7, the event loop during an async client's first call.

Each sample is a fresh interpreter (``python -m benchmarks.b7_first_call URL
METHOD``) that imports the facade, makes an ``AsyncServiceClient``, starts a
task that sleeps 1 ms at a time, then awaits the client's first call. The
task's longest wait past its sleep is how long something else held the loop.
The first call needs the modules that ``import weaver_facade`` defers
(``_lazy``): imported on the loop's thread, they held it for tenths of a
second. What holds the loop now is the worker thread's turns with the GIL and,
on a busy machine, the scheduler: the target is on the median. The client's
constructor, which is not async, is timed apart.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import KEY, ROOT, Result, Section, emulator, median, ms, table
from weaver_facade import AsyncServiceClient

TARGET = 0.05
METHODS = ("supported_models", "create_training_client")


async def first_call(base_url: str, method: str) -> dict[str, float]:
    started = time.perf_counter()
    service = AsyncServiceClient(base_url, KEY, heartbeat_interval=0)
    made = time.perf_counter() - started
    held = 0.0
    done = False

    async def tick() -> None:
        nonlocal held
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            held = max(held, time.perf_counter() - before - 0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    held = 0.0
    started = time.perf_counter()
    if method == "create_training_client":
        await service.create_training_client("weaver-tiny")
    else:
        await service.supported_models()
    call = time.perf_counter() - started
    done = True
    await ticker
    await service.aclose()
    return {"constructor": made, "call": call, "held": held}


def sample(base_url: str, method: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.b7_first_call", base_url, method],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    measured: dict[str, float] = json.loads(out.stdout)
    return measured


def run(quick: bool) -> Section:
    runs = 3 if quick else 11
    samples: dict[str, list[dict[str, float]]] = {method: [] for method in METHODS}
    with tempfile.TemporaryDirectory(prefix="weaver-bench-") as tmp, emulator(Path(tmp)) as server:
        sample(server.base_url, METHODS[0])  # fills the bytecode cache
        for _ in range(runs):
            for method in METHODS:
                samples[method].append(sample(server.base_url, method))
    section = Section("B7 — the event loop during the first async call")
    for method, found in samples.items():
        held = [s["held"] for s in found]
        section.results.append(
            Result(
                "B7",
                f"first `{method}`: loop held longest, p50 (max)",
                f"{ms(median(held))} ({ms(max(held))})",
                f"≤ {ms(TARGET)}",
                median(held) <= TARGET,
            )
        )
    section.notes.append(f"{runs} fresh interpreters per call, interleaved.")
    section.notes += table(
        ["first call", "call p50", "loop held p50", "max", "constructor p50"],
        (
            [
                f"`{method}`",
                ms(median([s["call"] for s in found])),
                ms(median([s["held"] for s in found])),
                ms(max(s["held"] for s in found)),
                ms(median([s["constructor"] for s in found])),
            ]
            for method, found in samples.items()
        ),
    )
    return section


def main(argv: list[str]) -> None:
    base_url, method = argv
    measured: dict[str, Any] = asyncio.run(first_call(base_url, method))
    print(json.dumps(measured))


if __name__ == "__main__":
    main(sys.argv[1:])

"""B3, async fan-out: 1,000 operations submitted at once, then all awaited.

The client runs in a fresh process (``python -m benchmarks.b3_fanout URL``) so
that its peak RSS is its own; it uses ``AsyncServiceClient`` as a script
would, with no ``http_client`` (the default connection pool). Operations are
optimizer steps of 1 s spread over 200 models (5 each, which a model runs one
after the other); the emulator has a worker per model. The server's own
completion time is from the first operation's creation to the last one's end,
read from its database.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import KEY, ROOT, Result, Section, emulator, median, ms, percentile
from weaver_facade import AsyncOperationHandle, AsyncServiceClient, OptimStepResult

MODELS, PER_MODEL, SECONDS = 200, 5, 1.0
RSS_TARGET_MB = 150


async def client(base_url: str, models: int, per_model: int) -> dict[str, Any]:
    requests = 0
    send = httpx.AsyncHTTPTransport.handle_async_request

    async def counting(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        nonlocal requests
        requests += 1
        return await send(self, request)

    httpx.AsyncHTTPTransport.handle_async_request = counting  # type: ignore[method-assign]
    async with AsyncServiceClient(base_url, KEY, heartbeat_interval=0) as service:
        trainers = [await service.create_training_client("weaver-tiny") for _ in range(models)]
        setup_requests = requests
        started = time.time()
        handles = await asyncio.gather(
            *(t.optim_step(wait=False) for _ in range(per_model) for t in trainers)
        )
        submitted = time.time()
        seen: dict[str, float] = {}

        async def await_one(handle: AsyncOperationHandle[OptimStepResult]) -> None:
            await handle.result(timeout=600)
            seen[handle.id] = time.time()

        await asyncio.gather(*(await_one(h) for h in handles))
        ended = time.time()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "started": started,
        "submitted": submitted,
        "ended": ended,
        "requests": requests - setup_requests,
        "operations": len(handles),
        "peak_rss_mb": peak_kb / 1024,
        "seen": seen,
    }


def run(quick: bool) -> Section:
    models, per_model = (20, 5) if quick else (MODELS, PER_MODEL)
    with tempfile.TemporaryDirectory(prefix="weaver-bench-b3-") as data_dir:
        latency = {"optim_step": SECONDS}
        with emulator(Path(data_dir), latency=latency, workers=models) as server:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.b3_fanout",
                    server.base_url,
                    str(models),
                    str(per_model),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
                check=True,
            )
        measured = json.loads(done.stdout)
        with sqlite3.connect(Path(data_dir) / "weaver.db") as db:
            first, last, count = db.execute(
                "SELECT min(created_at), max(updated_at), count(*) FROM operations "
                "WHERE kind='optim_step' AND status='done'"
            ).fetchone()
            done_at = dict(
                db.execute("SELECT id, updated_at FROM operations WHERE kind='optim_step'")
            )
    # Counted from when the op was done or its awaiting began, whichever came later: ops done
    # while the others were still being submitted were not waited for yet.
    lags = [
        seen - max(done_at[op_id], measured["submitted"])
        for op_id, seen in measured["seen"].items()
    ]
    ops = models * per_model
    assert count == ops == measured["operations"], (count, measured)
    server_s = last - first
    wall = measured["ended"] - measured["started"]
    limit = 1.1 * server_s + 0.1
    section = Section("B3 — async fan-out")
    section.results += [
        Result(
            "B3",
            f"{ops} ops: wall vs the server's completion",
            f"{wall:.2f} s vs {server_s:.2f} s ({wall / server_s:.3f}x)",
            "≤ 1.1x + 100 ms",
            wall <= limit,
        ),
        Result(
            "B3",
            "client peak RSS",
            f"{measured['peak_rss_mb']:.0f} MB",
            f"≤ {RSS_TARGET_MB} MB",
            measured["peak_rss_mb"] <= RSS_TARGET_MB,
        ),
        Result(
            "B3",
            "requests",
            f"{measured['requests']:.0f} ({measured['requests'] / ops:.2f} per op)",
        ),
        Result(
            "B3",
            "per-op lag after done (or after awaiting began): p50 / p90 / max",
            f"{ms(median(lags))} / {ms(percentile(lags, 90))} / {ms(max(lags))}",
        ),
    ]
    section.notes.append(
        f"{ops} optimizer steps of {SECONDS:g} s on {models} models ({per_model} each, run in "
        f"turn by the model); submitting took {measured['submitted'] - measured['started']:.2f} s; "
        f"the first operation was created {first - measured['started']:.2f} s after the first "
        f"submit began and the last result arrived {measured['ended'] - last:.3f} s after the "
        "server finished the last operation. "
        f"Wall = first submit to last result; the server's completion = first operation "
        f"created to last done. Requests = every HTTP request of the client after setup "
        f"(submits and polls, retries included). Peak RSS = the client process's ru_maxrss."
    )
    return section


def main() -> None:
    base_url, models, per_model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(client(base_url, models, per_model))))


if __name__ == "__main__":
    main()

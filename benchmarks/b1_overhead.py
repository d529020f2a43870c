"""B1, facade overhead: ``list_checkpoints`` of 100 items three ways over one in-memory transport.

The transport answers from bytes prepared once (a 100-item CheckpointList in
the spec's shape), so what is timed is the client side alone: the facade
(retry transport, error mapping, typed ``Checkpoint``s), the bare generated
call (``weaver_client.api.checkpoints.list_checkpoints.sync``), and raw httpx
plus ``json``. Rounds interleave the three so that drift hits all alike.

The target compares the facade with the generated call it wraps (at most 1.5x),
and the facade's own cost per item is set next to one loopback HTTP round trip,
which is what a user pays for any call at all.
"""

from __future__ import annotations

import cProfile
import http.server
import json
import pstats
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import weaver_client.api.checkpoints.list_checkpoints as list_checkpoints
from weaver_client.client import AuthenticatedClient
from weaver_client.models import Error

from benchmarks.common import KEY, Result, Section, median, percentile, table
from weaver_facade import ServiceClient

BASE = "http://bench.test"
MODEL = "m-bench0000000001"
ITEMS = 100
TARGET = 1.5


def checkpoint(i: int) -> dict[str, Any]:
    name = f"step-{i:05d}"
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "name": name,
        "type": "weight_and_optimizer",
        "path": f"weaver://{MODEL}/checkpoints/{name}",
        "status": "completed",
        "ttl_seconds": None,
        "created_at": f"2026-11-29T10:{i // 60 % 60:02d}:{i % 60:02d}.123Z",
        "expires_at": None,
        "train_unembed": True,
        "train_mlp": True,
        "train_attn": True,
        "model_id": MODEL,
        "size_bytes": 123_456 + i,
        "sha256": f"{i:064x}",
    }


LISTING = json.dumps({"items": [checkpoint(i) for i in range(ITEMS)], "next_cursor": None}).encode()
MODEL_JSON = json.dumps(
    {
        "id": MODEL,
        "session_id": "s-bench",
        "model_seq_id": 1,
        "base_model": "weaver-tiny",
        "tokenizer_path": "weaver/tiny",
        "training_mode": "lora",
        "lora_config": {"rank": 4, "seed": 0},
        "user_metadata": {},
        "status": "active",
        "next_seq_id": 1,
        "created_at": "2026-11-29T10:00:00.000Z",
    }
).encode()


def handler(request: httpx.Request) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if request.url.path.endswith("/checkpoints"):
        return httpx.Response(200, content=LISTING, headers=headers)
    return httpx.Response(200, content=MODEL_JSON, headers=headers)


def variants() -> tuple[dict[str, Callable[[], int]], Callable[[], None]]:
    transport = httpx.MockTransport(handler)
    service = ServiceClient(BASE, KEY, heartbeat_interval=0)
    # The facade's default stack is RetryTransport(HTTPTransport()); only the innermost
    # transport, the one that would open sockets, is swapped for the in-memory one.
    retry = service._io.generated._httpx_args["transport"]
    retry._transport = transport
    trainer = service.training_client(MODEL, next_seq_id=1)

    generated = AuthenticatedClient(
        base_url=BASE,
        token=KEY,
        prefix="",
        auth_header_name="X-WEAVER-API-KEY",
        httpx_args={"transport": transport},
    )
    raw = httpx.Client(base_url=BASE, transport=transport, headers={"X-WEAVER-API-KEY": KEY})

    def facade() -> int:
        return len(trainer.list_checkpoints(page_size=ITEMS))

    def bare() -> int:
        page = list_checkpoints.sync(client=generated, model_id=MODEL, limit=ITEMS)
        assert page is not None
        assert not isinstance(page, Error)
        return len(page.items)

    def raw_json() -> int:
        reply = raw.get(f"/api/v1/models/{MODEL}/checkpoints", params={"limit": ITEMS})
        return len(json.loads(reply.content)["items"])

    def close() -> None:
        service.close()
        generated.get_httpx_client().close()
        raw.close()

    return {"facade": facade, "generated": bare, "raw httpx + json": raw_json}, close


def profile(call: Callable[[], int], calls: int) -> list[str]:
    """The functions the facade's call spends its own time in, as markdown rows."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tottime for _cc, _nc, tottime, _ct, _callers in entries.values())
    top = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:8]
    rows = ["| function (own time) | share | per call, under cProfile |", "| --- | --- | --- |"]
    for (filename, line, name), (_cc, _nc, tottime, _ct, _callers) in top:
        where = Path(filename).name if filename != "~" else "builtin"
        rows.append(
            f"| `{where}:{line} {name}` | {tottime / total:.0%} | {tottime / calls * 1e6:.0f} µs |"
        )
    return rows


class _Empty(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients use
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per reply

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def loopback_round_trip(calls: int) -> float:
    """The p50 of one keep-alive GET of an empty JSON object from a server on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Empty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}") as client:
            client.get("/")
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                client.get("/")
                times.append(time.perf_counter() - started)
    finally:
        server.shutdown()
        server.server_close()
    return median(times)


def run(quick: bool) -> Section:
    rounds, calls = (5, 10) if quick else (30, 40)
    calls_of, close = variants()
    per_call: dict[str, list[float]] = {name: [] for name in calls_of}
    try:
        for call in calls_of.values():  # warm up
            assert call() == ITEMS
        for _ in range(rounds):
            for name, call in calls_of.items():
                started = time.perf_counter()
                for _ in range(calls):
                    call()
                per_call[name].append((time.perf_counter() - started) / calls)
    finally:
        close()
    section = Section("B1 — facade overhead")
    p50 = {name: median(times) for name, times in per_call.items()}
    ratio = p50["facade"] / p50["generated"]
    section.results.append(
        Result(
            "B1",
            "facade / generated call, p50",
            f"{ratio:.2f}x",
            f"≤ {TARGET:.2f}x",
            ratio <= TARGET,
        )
    )
    section.results.append(
        Result(
            "B1",
            "generated / raw httpx + json, p50",
            f"{p50['generated'] / p50['raw httpx + json']:.2f}x",
        )
    )
    trip = loopback_round_trip(50 if quick else 500)
    own = (p50["facade"] - p50["generated"]) / ITEMS
    section.results.append(
        Result(
            "B1",
            "facade's own cost per item vs one loopback round trip, p50",
            f"{own * 1e6:.1f} µs vs {trip * 1e6:.0f} µs",
        )
    )
    section.notes.append(
        f"`list_checkpoints` returning {ITEMS} items; {rounds} interleaved rounds of {calls} "
        "calls per variant; per-call time of each round. One converter per wire type: the "
        "facade checks the fields the generated `from_dict` passes through unchecked and "
        "builds its typed `Checkpoint`; only a reply that fails is explained from the spec's "
        "schema. A loopback round trip (keep-alive GET of `{}` from a server on 127.0.0.1) "
        f"takes {trip * 1e6:.0f} µs (p50), the facade's own work per item "
        f"{own * 1e6:.1f} µs."
    )
    section.notes += table(
        ["variant", "p50 per call", "p90 per call", "per item (p50)"],
        (
            [
                name,
                f"{p50[name] * 1e6:.0f} µs",
                f"{percentile(times, 90) * 1e6:.0f} µs",
                f"{p50[name] / ITEMS * 1e6:.1f} µs",
            ]
            for name, times in per_call.items()
        ),
    )
    if ratio > TARGET:
        again, close_again = variants()
        try:
            rows = profile(again["facade"], 50 if quick else 300)
        finally:
            close_again()
        section.notes.append("")  # ends the table
        section.notes.append("Profile of the facade call in this run:")
        section.notes += rows
    return section

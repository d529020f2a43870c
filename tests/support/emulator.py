"""Helpers for the emulator's tests: raw HTTP against the wire, no facade involved."""

from __future__ import annotations

import contextlib
import hashlib
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from tests.support.signals import with_sigint

if TYPE_CHECKING:
    from starlette.applications import Starlette

API = "/api/v1"
KEY_A = "tenant-a-secret-key-7f3c"
KEY_B = "tenant-b-secret-key-91d2"
TERMINAL = ("done", "error")

# The real SDK's AdamW defaults (the wire sheet), with a larger rate so a few steps move the loss.
ADAM: dict[str, float] = {
    "learning_rate": 0.05,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-8,
    "weight_decay": 0.01,
    "grad_clip_norm": 1.0,
}

Json = dict[str, Any]


@contextlib.contextmanager
def serve_in_thread(
    asgi: Any,
    app: Starlette,
    *,
    name: str,
    listener: socket.socket | None = None,
    **options: Any,
) -> Iterator[str]:
    """``asgi`` (the emulator ``app``, or a wrapper of it) on a free loopback port (or on
    ``listener``'s), in a thread; yields its base URL, ``https`` given ``ssl_certfile`` among
    uvicorn's ``options``. On the way out, held long-polls are released (they must not hold
    up shutdown), the server stops and the emulator closes."""
    import uvicorn

    config = uvicorn.Config(
        asgi,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        **options,
    )
    server = uvicorn.Server(config)
    sockets = None if listener is None else [listener]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": sockets}, name=name, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the emulator thread died before listening"
        assert time.monotonic() < deadline, "the emulator did not start within 30 s"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if "ssl_certfile" in options else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        app.state.emulator.waiters.notify_all()
        server.should_exit = True
        thread.join(timeout=15)
        app.state.emulator.close()
        if listener is not None:
            listener.close()


class FakeClock:
    """Seconds since the epoch, moved by hand so TTL tests never sleep."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def datum(
    tokens: Sequence[int], targets: Sequence[int], weights: Sequence[float] | None = None
) -> Json:
    return {
        "model_input": {"chunks": [{"type": "encoded_text", "tokens": list(tokens)}]},
        "loss_fn_inputs": {
            "target_tokens": {"data": list(targets), "dtype": "int64"},
            "weights": {
                "data": list(weights) if weights is not None else [1.0] * len(targets),
                "dtype": "float32",
            },
        },
    }


def batch(step: int = 0, vocab: int = 256, length: int = 12) -> list[Json]:
    """A small deterministic batch: next-token prediction on two shifted sequences."""
    out = []
    for row in range(2):
        seq = [(7 * step + 13 * row + 5 * i) % vocab for i in range(length + 1)]
        out.append(datum(seq[:-1], seq[1:]))
    return out


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_error(response: httpx.Response, status: int, code: str, *fragments: str) -> Json:
    """The spec's Error body, with the X-Request-ID header, and a message naming what's wrong."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-request-id"), "every reply carries X-Request-ID"
    body: Json = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    assert isinstance(body["retryable"], bool), body
    assert set(body) <= {"error", "message", "retryable", "details", "request_id"}, body
    for fragment in fragments:
        assert fragment in body["message"], (fragment, body["message"])
    return body


@dataclass
class Api:
    """One tenant's view of an emulator, over any httpx client (in-process or real HTTP)."""

    client: httpx.AsyncClient
    key: str | None
    seq: dict[str, int] = field(default_factory=dict)
    model_seq: int = 0

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        out = {} if self.key is None else {"X-WEAVER-API-KEY": self.key}
        out.update(extra or {})
        return out

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        return await self.client.request(
            method,
            API + path,
            json=json,
            params=params,
            headers=self.headers(headers),
            content=content,
        )

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Json:
        response = await self.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        assert response.headers.get("x-request-id")
        body: Json = response.json()
        return body

    # -- sessions and models --------------------------------------------------

    async def session(self) -> str:
        body = await self.ok("POST", "/sessions", 201, json={"tags": ["test"]})
        session_id: str = body["id"]
        return session_id

    async def model(
        self,
        session_id: str | None = None,
        *,
        base_model: str = "weaver-tiny",
        mode: str = "lora",
        rank: int = 4,
        seed: int = 0,
    ) -> str:
        if session_id is None:
            session_id = await self.session()
        self.model_seq += 1
        body: Json = {
            "model_seq_id": self.model_seq,
            "base_model": base_model,
            "training_mode": mode,
        }
        if mode == "lora":
            body["lora_config"] = {"rank": rank, "seed": seed}
        created = await self.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
        model_id: str = created["id"]
        return model_id

    # -- operations ------------------------------------------------------------

    def next_seq(self, model_id: str) -> int:
        self.seq[model_id] = self.seq.get(model_id, 0) + 1
        return self.seq[model_id]

    async def wait(self, op: Json, *, budget: int = 60) -> Json:
        """Long-poll until the operation is terminal; a bounded number of rounds."""
        current = op
        for _ in range(budget):
            if current["status"] in TERMINAL:
                return current
            current = await self.ok("GET", f"/operations/{op['id']}", params={"wait": 10})
        raise AssertionError(f"operation {op['id']} still {current['status']} after {budget} polls")

    async def done(self, op: Json) -> Json:
        final = await self.wait(op)
        assert final["status"] == "done", final
        response: Json = final["response"]
        return response

    def fb_body(self, model_id: str, data: list[Json], seq_id: int | None = None) -> Json:
        return {
            "payload": {
                "model_id": model_id,
                "seq_id": self.next_seq(model_id) if seq_id is None else seq_id,
                "forward_backward_input": {"loss_fn": "cross_entropy", "data": data},
            }
        }

    def forward_body(self, model_id: str, data: list[Json], seq_id: int | None = None) -> Json:
        """A forward pass: a forward-backward body whose input is called ``forward_input``."""
        body = self.fb_body(model_id, data, seq_id)
        body["payload"]["forward_input"] = body["payload"].pop("forward_backward_input")
        return body

    def optim_body(self, model_id: str, adam: Mapping[str, float] | None = None) -> Json:
        return {
            "payload": {
                "model_id": model_id,
                "seq_id": self.next_seq(model_id),
                "adam_params": dict(ADAM if adam is None else adam),
            }
        }

    async def submit_fb(self, model_id: str, data: list[Json]) -> Json:
        return await self.ok(
            "POST",
            f"/models/{model_id}/forward-backward-passes",
            202,
            json=self.fb_body(model_id, data),
        )

    async def submit_optim(self, model_id: str, adam: Mapping[str, float] | None = None) -> Json:
        return await self.ok(
            "POST", f"/models/{model_id}/optimizer-steps", 202, json=self.optim_body(model_id, adam)
        )

    async def forward_backward(self, model_id: str, data: list[Json]) -> Json:
        return await self.done(await self.submit_fb(model_id, data))

    async def submit_forward(self, model_id: str, data: list[Json]) -> Json:
        return await self.ok(
            "POST",
            f"/models/{model_id}/forward-passes",
            202,
            json=self.forward_body(model_id, data),
        )

    async def forward(self, model_id: str, data: list[Json]) -> Json:
        return await self.done(await self.submit_forward(model_id, data))

    async def step(
        self, model_id: str, data: list[Json], adam: Mapping[str, float] | None = None
    ) -> float:
        """One training step (forward-backward, then AdamW); returns the step's ``loss:sum``."""
        fb = await self.submit_fb(model_id, data)
        opt = await self.submit_optim(model_id, adam)
        result = await self.done(fb)
        await self.done(opt)
        loss: float = result["metrics"]["loss:sum"]
        return loss

    # -- checkpoints -----------------------------------------------------------

    async def submit_save(self, model_id: str, ckpt_type: str = "weight", **extra: Any) -> Json:
        return await self.ok(
            "POST", f"/models/{model_id}/checkpoints", 202, json={"type": ckpt_type, **extra}
        )

    async def save(self, model_id: str, ckpt_type: str = "weight", **extra: Any) -> Json:
        return await self.done(await self.submit_save(model_id, ckpt_type, **extra))

    async def load(self, model_id: str, path: str, include_optimizer: bool) -> Json:
        op = await self.ok(
            "POST",
            f"/models/{model_id}/load",
            202,
            json={"path": path, "include_optimizer": include_optimizer},
        )
        return await self.done(op)

    async def checkpoints(self, model_id: str, **params: Any) -> Json:
        return await self.ok("GET", f"/models/{model_id}/checkpoints", params=params or None)


READY = re.compile(r"weaver emulator listening on (http://\S+)")


@dataclass
class EmulatorProcess:
    """``python -m weaver_facade.emulator`` in a subprocess, with its output collected."""

    process: subprocess.Popen[str]
    base_url: str
    stdout: list[str]
    stderr: list[str]
    seconds_to_ready: float

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def spawn_emulator(*args: str, timeout: float = 30, script: bool = False) -> EmulatorProcess:
    """Start the command on a free port and wait (bounded) for its ready line; with
    ``script``, as ``weaver-facade emulator`` (the console script) rather than
    ``python -m weaver_facade.emulator``."""
    started = time.monotonic()
    program = (
        [str(Path(sys.executable).with_name("weaver-facade")), "emulator"]
        if script
        else [sys.executable, "-m", "weaver_facade.emulator"]
    )
    command = [*program, "--port", "0", *args]
    process = subprocess.Popen(
        with_sigint("SIG_DFL", command),  # as a foreground job: the tests send it Ctrl-C's SIGINT
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: list[str] = []
    stderr: list[str] = []
    ready: queue.Queue[str] = queue.Queue()

    def pump(stream: IO[str], sink: list[str], watch: bool) -> None:
        with stream:  # closed at the end of the output, which nothing else reads
            for line in stream:
                sink.append(line)
                match = READY.search(line) if watch else None
                if match:
                    ready.put(match.group(1))

    assert process.stdout is not None
    assert process.stderr is not None
    for stream, sink, watch in ((process.stdout, stdout, True), (process.stderr, stderr, False)):
        threading.Thread(target=pump, args=(stream, sink, watch), daemon=True).start()
    try:
        base_url = ready.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        process.wait()
        raise AssertionError(
            "the emulator printed no ready line:\n" + "".join(stdout + stderr)
        ) from None
    return EmulatorProcess(process, base_url, stdout, stderr, time.monotonic() - started)


AppFactory = Callable[..., "Starlette"]
"""Builds an in-process emulator app (the ``make_app`` fixture)."""

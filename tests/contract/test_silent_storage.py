"""A storage host that takes the kit's GET and sends nothing keeps to `--deadline`.

The storage downloads waited 60 s for each of their bytes and tried 3 times: a host that
never answered held the lifecycle for some 3 minutes past `--deadline 1`. A download whose
bytes keep coming is still not cut, however long it takes.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any, cast

import httpx

from tests.support.scripted_http import HANG, QuietServer, ScriptedServer
from weaver_facade.contract._artifact_steps import ArtifactSteps, _url
from weaver_facade.contract._lifecycle import StepResult


def _steps(deadline: float) -> ArtifactSteps:
    steps = ArtifactSteps.__new__(ArtifactSteps)
    steps.storage = httpx.Client(timeout=httpx.Timeout(60.0))  # the kit's own timeouts
    steps.sc = cast(Any, SimpleNamespace(s=SimpleNamespace(deadline=deadline)))
    return steps


def test_a_silent_storage_host_costs_about_the_deadline() -> None:
    errors: list[BaseException] = []
    with ScriptedServer(lambda method, path: HANG) as storage:
        item = {"name": "a.bin", "url": f"{storage.base_url}/a.bin"}

        def fetch() -> None:
            try:
                _steps(1.0)._fetch(StepResult("storage", "running"), item)
            except BaseException as exc:
                errors.append(exc)

        started = time.monotonic()
        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        worker.join(timeout=20)  # bounds the test; the fetch alone waited 3 minutes
        took = time.monotonic() - started
    assert not worker.is_alive(), f"still waiting for storage after {took:.0f} s"
    (error,) = errors
    assert isinstance(error, httpx.TimeoutException), repr(error)
    # The deadline, and a second try at most, on a busy machine.
    assert took < 6.0, took


class _Dripping(BaseHTTPRequestHandler):
    """A 10-byte file, a byte every 0.3 s: 3 s in all, each wait short."""

    def do_GET(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_response(200)
        self.send_header("Content-Length", "10")
        self.end_headers()
        for _ in range(10):
            time.sleep(0.3)  # the host's pace, not a synchronisation
            self.wfile.write(b"x")
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_a_download_whose_bytes_keep_coming_is_not_cut_at_the_deadline() -> None:
    server = QuietServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/a.bin"
        item = _url({"name": "a.bin", "url": url})
        got = _steps(1.0)._read(StepResult("storage", "running"), item, may_renew=False)
    finally:
        server.shutdown()
        server.server_close()
    assert got is not None
    _, size, content = got
    assert (size, content) == (10, b"x" * 10)

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
import pytest

from tests.support.scripted_http import HANG, QuietServer, ScriptedServer, unavailable
from weaver_facade.contract._artifact_steps import ArtifactSteps
from weaver_facade.contract._findings import Finding
from weaver_facade.contract._lifecycle import StepFailed, StepResult


def _steps(deadline: float) -> ArtifactSteps:
    """The kit's artifact steps and their own storage client, under ``deadline``."""

    def expect(result: StepResult, ok: bool, finding: Finding) -> None:
        if not ok:
            result.findings.append(finding)
            raise StepFailed

    return ArtifactSteps(
        cast(
            Any,
            SimpleNamespace(
                s=SimpleNamespace(deadline=deadline),
                finding=lambda *a: Finding("lifecycle", *a[:5]),
                expect=expect,
            ),
        )
    )


def test_a_silent_storage_host_costs_about_the_deadline() -> None:
    errors: list[BaseException] = []
    steps = _steps(1.0)
    with ScriptedServer(lambda method, path: HANG) as storage, steps.storage:
        item = {"name": "a.bin", "url": f"{storage.base_url}/a.bin"}

        def fetch() -> None:
            try:
                steps._fetch(StepResult("storage", "running"), item)
            except BaseException as exc:
                errors.append(exc)

        started = time.monotonic()
        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        worker.join(timeout=20)  # bounds the test; the fetch alone waited 3 minutes
        took = time.monotonic() - started
        sent = list(storage.requests)
    assert not worker.is_alive(), f"still waiting for storage after {took:.0f} s"
    (error,) = errors
    assert isinstance(error, httpx.TimeoutException), repr(error)
    # A try that timed out is not sent again: three tries of the deadline fit the bound below.
    assert sent == [("GET", "/a.bin")], sent
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
    # Through the lifecycle's own path (`_fetch`, its tries and its client): the whole
    # download takes three times the deadline, each wait for a byte under a third of it.
    server = QuietServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    steps = _steps(1.0)
    result = StepResult("storage", "running")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/a.bin"
        started = time.monotonic()
        got = steps._fetch(result, {"name": "a.bin", "url": url, "size": 10})
        took = time.monotonic() - started
    finally:
        steps.storage.close()
        server.shutdown()
        server.server_close()
    assert result.findings == []
    assert (got.size, got.content) == (10, b"x" * 10)
    assert took > 1.0, took  # longer than the deadline: the download was not cut at it


def test_storage_that_asks_to_wait_costs_no_more_than_the_deadline() -> None:
    # Its waits were those storage asked for, 3 of up to 10 s, whatever --deadline said:
    # `Retry-After: 3` held a fetch 9 s under --deadline 1.
    steps = _steps(1.0)
    result = StepResult("storage", "running")
    with ScriptedServer(lambda method, path: unavailable("3")) as storage, steps.storage:
        started = time.monotonic()
        with pytest.raises(StepFailed):
            steps._fetch(result, {"name": "a.bin", "url": f"{storage.base_url}/a.bin"})
        took = time.monotonic() - started
        sent = list(storage.requests)
    assert sent == [("GET", "/a.bin")], sent
    assert took < 2.5, took  # less than the first wait asked for
    [finding] = result.findings
    assert finding.message == "the storage URL of `a.bin` answered 503", finding

"""A server that takes the kit's first request and does not answer it.

The first request (the base-model listing) had a read timeout of its own, 15 s, whatever
`--deadline` said, and its error said `cannot reach` the server, which had taken the
connection: a server slower than 15 s there was called unreachable under `--deadline 300`,
and one that never answers cost 15 s under `--deadline 1`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.scripted_http import HANG, ScriptedServer

ROOT = Path(__file__).resolve().parents[2]


def test_a_first_request_without_a_reply_keeps_to_the_deadline_and_says_so() -> None:
    with ScriptedServer(lambda method, path: HANG) as server:
        command = [sys.executable, "-m", "weaver_facade.contract", "--quick"]
        command += ["--base-url", server.base_url, "--deadline", "2"]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
        took = time.monotonic() - started
        sent = [(method, path.partition("?")[0]) for method, path in server.requests]
    assert done.returncode == 2, done.stdout + done.stderr
    assert sent == [("GET", "/api/v1/supported-models")], sent
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: no reply from {server.base_url} within 2 s"), error
    assert "GET /api/v1/supported-models" in error, error
    assert "--deadline" in error, error
    assert "cannot reach" not in error, error
    # The deadline and the interpreter's start (a few seconds on a busy machine), not 15 s.
    assert took < 12.0, took

"""``import weaver_facade`` leaves out what no request has needed yet (``_lazy``, B4)."""

from __future__ import annotations

import json
import subprocess
import sys

# Imported on first use: the generated models and asyncio (``_lazy``), and httpcore,
# which httpx itself imports only when a transport is made.
DEFERRED = ("weaver_client.models", "asyncio", "httpcore")


def test_import_weaver_facade_defers_what_requests_need() -> None:
    probe = (
        "import sys, json, weaver_facade\n"
        f"print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == []

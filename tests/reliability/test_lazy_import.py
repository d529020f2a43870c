"""``import weaver_facade`` defers the generated models and asyncio to their first use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
import weaver_facade
lazy = ("asyncio", "weaver_client.models", "weaver_client.api")
before = sorted(m for m in lazy if m in sys.modules)
from weaver_facade import _calls
call = _calls.list_checkpoints("m-1", limit=5, cursor=None)
after_call = "weaver_client.models" in sys.modules
weaver_facade.AsyncServiceClient("http://127.0.0.1:9", "k")
print(json.dumps([before, after_call, "asyncio" in sys.modules, call.request["url"]]))
"""


def test_generated_models_and_asyncio_load_on_first_use() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    before, after_call, asyncio_loaded, url = json.loads(out.stdout)
    assert before == []
    assert after_call is True
    assert asyncio_loaded is True
    assert url == "/api/v1/models/m-1/checkpoints"


# A first call whose import of the generated models takes a loaded machine's time (0.6 s
# here), through a copy under with_options(timeout=1), to a server that never answers.
SLOW_FIRST_CALL = """
import socket, sys, time

class SlowModels:
    def find_spec(self, name, path=None, target=None):
        if name == "weaver_client.models":
            time.sleep(0.6)
        return None  # found by the usual finders

sys.meta_path.insert(0, SlowModels())
import weaver_facade

server = socket.create_server(("127.0.0.1", 0))  # takes connections, answers none
svc = weaver_facade.ServiceClient(
    f"http://127.0.0.1:{server.getsockname()[1]}", "k", heartbeat_interval=0
)
fast = svc.with_options(timeout=1, max_retries=0)
start = time.monotonic()
try:
    CALL
except weaver_facade.APITimeoutError:
    print(time.monotonic() - start)
"""

# The same through an AsyncServiceClient: its calls import the models in a thread of their
# own (``_on_asyncio``), each the first call on its loop.
ASYNC_CALL = """
import asyncio

async def main():
    global svc
    svc = weaver_facade.AsyncServiceClient(
        f"http://127.0.0.1:{server.getsockname()[1]}", "k", heartbeat_interval=0
    )
    fast = svc.with_options(timeout=1, max_retries=0)
    start = time.monotonic()
    try:
        await CALL
    except (weaver_facade.APITimeoutError, weaver_facade.DownloadTimeoutError):
        print(time.monotonic() - start)

asyncio.run(main())
"""


@pytest.mark.parametrize(
    "call",
    [
        "fast.operation('op-1')",
        "next(fast.iter_models())",
        "fast.supported_models()",
        "fast.create_training_client_from_state('weaver://m-1/checkpoints/c')",
        "fast.download_weights('weaver://m-1/checkpoints/c', 'DEST')",
        "fast.download_weights('weaver://m-1/checkpoints/c', 'DEST', timeout=5)",
    ],
)
def test_a_first_calls_import_of_the_models_is_within_its_deadline(
    call: str, tmp_path: Path
) -> None:
    # The call's Operation request was built (importing the generated models, 0.15 s to
    # 0.45 s on a loaded machine) before its deadline started: it ended that much late.
    # A resume's first step (the checkpoint's lookup) too, and a download's first API
    # request, each step or request within its timeout; under a download's own longer
    # timeout, that request's began after the imports (1.8 s).
    call = call.replace("DEST", str(tmp_path))
    assert 0.9 < _took(SLOW_FIRST_CALL.replace("CALL", call)) < 1 + 0.4


@pytest.mark.parametrize(
    "call",
    [
        "fast.operation('op-1')",
        "anext(fast.iter_models())",
        "fast.list_models()",
        "fast.get_model('m-1')",
        "fast.create_training_client('base')",
        "fast.create_training_client_from_state('weaver://m-1/checkpoints/c')",
        "svc.download_weights('weaver://m-1/checkpoints/c', 'DEST', timeout=1)",
        "fast.download_weights('weaver://m-1/checkpoints/c', 'DEST')",
        "fast.download_weights('weaver://m-1/checkpoints/c', 'DEST', timeout=5)",
    ],
)
def test_an_async_first_calls_import_of_the_models_is_within_its_deadline(
    call: str, tmp_path: Path
) -> None:
    # Each async call imported the models off the loop (``_on_asyncio``) before its
    # deadline started: it ended that much late.
    call = call.replace("DEST", str(tmp_path))
    script = SLOW_FIRST_CALL.split("svc = ")[0] + ASYNC_CALL.replace("CALL", call)
    assert 0.9 < _took(script) < 1 + 0.4


def _took(script: str) -> float:
    """The seconds the call of ``script`` took to time out, as it prints them."""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return float(out.stdout)

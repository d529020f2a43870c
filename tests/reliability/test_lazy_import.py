"""``import weaver_facade`` defers the generated models and asyncio to their first use."""

from __future__ import annotations

import json
import subprocess
import sys

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

"""Serve an emulator with any ``EmulatorConfig``: ``python -m benchmarks._serve DIR JSON``.

The command line offers only some settings (not ``workers``); benchmarks need them all.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from benchmarks.common import KEY
from weaver_facade.emulator import EmulatorConfig
from weaver_facade.emulator._server import serve_forever


def main() -> None:
    data_dir, raw = sys.argv[1], sys.argv[2]
    settings = json.loads(raw)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,), **settings)

    def ready(url: str) -> None:
        print(f"weaver emulator listening on {url}", flush=True)

    serve_forever(config, "127.0.0.1", 0, on_ready=ready, access_log=False)


if __name__ == "__main__":
    main()

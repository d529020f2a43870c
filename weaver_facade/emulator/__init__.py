"""A local Weaver: a reference server that implements openapi.yaml with a real (tiny) trainer.

Three ways to run it:

- in-process: ``create_app(EmulatorConfig(data_dir=...))`` is an ASGI app;
- in a background thread: ``with run_emulator() as emu: ... emu.base_url ...``;
- as a command: ``python -m weaver_facade.emulator --data-dir DIR --api-key KEY``
  (also ``weaver-facade emulator ...``).

The client side of the facade never imports this package.
"""

from __future__ import annotations

from ._app import EmulatorApp, create_app
from ._config import EmulatorConfig, FaultConfig, FaultRule
from ._server import RunningEmulator, run_emulator
from ._spec import spec_path

__all__ = [
    "EmulatorApp",
    "EmulatorConfig",
    "FaultConfig",
    "FaultRule",
    "RunningEmulator",
    "create_app",
    "run_emulator",
    "spec_path",
]

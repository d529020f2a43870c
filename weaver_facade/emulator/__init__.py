"""A local Weaver: a reference server that implements openapi.yaml with a real (tiny) trainer.

Three ways to run it:

- in-process: ``create_app(EmulatorConfig(data_dir=...))`` is an ASGI app;
- in a background thread: ``with run_emulator() as emu: ... emu.base_url ...``;
- as a command: ``python -m weaver_facade.emulator --data-dir DIR --api-key KEY``
  (also ``weaver-facade emulator ...``).

Needs the ``emulator`` extra. The client side of the facade never imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from .._spec_schema import spec_path
    from ._app import EmulatorApp, create_app
    from ._config import EmulatorConfig, FaultConfig, FaultRule
    from ._server import RunningEmulator, run_emulator

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

# Imported on first use, so that `python -m weaver_facade.emulator` can name a missing extra.
if not TYPE_CHECKING:  # a checker sees the imports above, and so names a misspelt one
    __getattr__ = lazy_attributes(
        __name__,
        {
            "EmulatorApp": "._app",
            "spec_path": ".._spec_schema",
            "create_app": "._app",
            "EmulatorConfig": "._config",
            "FaultConfig": "._config",
            "FaultRule": "._config",
            "RunningEmulator": "._server",
            "run_emulator": "._server",
        },
        "emulator",
    )

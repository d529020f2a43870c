"""The clients' requests import nothing once warm.

httpcore asks which async library runs on every connection-pool lock by
importing ``sniffio``; without it installed, each request searched every
``sys.path`` entry for it again, seconds of CPU for a thousand operations
(B3). The facade depends on ``sniffio`` so that the import is found once.
A generated request module is imported on first use only (``_lazy``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from weaver_facade import AsyncServiceClient, ServiceClient
from weaver_facade.emulator import RunningEmulator


class _Lookups:
    """A finder placed first on ``sys.meta_path``: records every module searched for."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(name)
        return None


async def test_warm_async_requests_search_for_no_module(emu: RunningEmulator) -> None:
    async with AsyncServiceClient(emu.base_url, emu.api_key, heartbeat_interval=0) as service:
        trainer = await service.create_training_client("weaver-tiny")
        await trainer.save_state("warm")
        await trainer.list_checkpoints()
        lookups = _Lookups()
        sys.meta_path.insert(0, lookups)
        try:
            for i in range(5):
                await trainer.save_state(f"step-{i}")
                await trainer.list_checkpoints()
        finally:
            sys.meta_path.remove(lookups)
    assert lookups.names == []


def test_warm_sync_requests_search_for_no_module(emu: RunningEmulator) -> None:
    with ServiceClient(emu.base_url, emu.api_key, heartbeat_interval=0) as service:
        trainer = service.create_training_client("weaver-tiny")
        trainer.save_state("warm")
        trainer.list_checkpoints()
        lookups = _Lookups()
        sys.meta_path.insert(0, lookups)
        try:
            for i in range(5):
                trainer.save_state(f"step-{i}")
                trainer.list_checkpoints()
        finally:
            sys.meta_path.remove(lookups)
    assert lookups.names == []

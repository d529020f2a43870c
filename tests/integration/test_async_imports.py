"""The async client's requests import nothing once warm.

httpcore asks which async library runs on every connection-pool lock by
importing ``sniffio``; without it installed, each request searched every
``sys.path`` entry for it again, seconds of CPU for a thousand operations
(B3). The facade depends on ``sniffio`` so that the import is found once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

from weaver_facade import AsyncServiceClient
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
        for _ in range(3):
            await service.list_models()
        lookups = _Lookups()
        sys.meta_path.insert(0, lookups)
        try:
            for _ in range(20):
                await service.list_models()
        finally:
            sys.meta_path.remove(lookups)
    assert lookups.names == []

"""The clients' requests import nothing once warm.

httpcore asks which async library runs on every connection-pool lock by
importing ``sniffio``; without it installed, each request searched every
``sys.path`` entry for it again, seconds of CPU for a thousand operations
(B3). The facade depends on ``sniffio`` so that the import is found once.
A generated request module is imported on first use only (``_lazy``), and an
async client's first request imports it in a worker thread: on the event
loop's, the import held every other task for tenths of a second.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.support.integration import BASE_MODEL, batch
from weaver_facade import AsyncServiceClient, ServiceClient, _lazy
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


# A fresh interpreter makes a client, then prints the modules first imported on the event
# loop's thread by the first call: ``sys.argv`` names the method and its arguments, and
# whether a first call of it is cancelled at its first wait before the one measured.
FIRST_CALL = """
import asyncio, inspect, json, sys, threading
from weaver_facade import AsyncServiceClient

base_url, api_key, method, args, cancel_first = json.loads(sys.argv[1])

class OnLoop:
    def __init__(self):
        self.thread = threading.get_ident()
        self.names = []

    def find_spec(self, name, path, target=None):
        if threading.get_ident() == self.thread:
            self.names.append(name)
        return None

async def call(service):
    got = getattr(service, method)(*args)
    return [x async for x in got] if inspect.isasyncgen(got) else await got

async def main():
    async with AsyncServiceClient(base_url, api_key, heartbeat_interval=0) as service:
        on_loop = OnLoop()
        sys.meta_path.insert(0, on_loop)
        if cancel_first:
            first = asyncio.ensure_future(call(service))
            await asyncio.sleep(0)
            first.cancel()
            await asyncio.wait({first})
        await call(service)
        sys.meta_path.remove(on_loop)
    print(json.dumps(on_loop.names))

asyncio.run(main())
"""


def _public_async_methods() -> set[str]:
    return {
        name
        for name, member in vars(AsyncServiceClient).items()
        if not name.startswith("_")
        and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
    }


def _first_call_imports_on_loop(
    emu: RunningEmulator, method: str, args: Sequence[object], *, cancel_first: bool = False
) -> list[str]:
    """What the first call imports on the loop's thread."""
    argv = json.dumps([emu.base_url, emu.api_key, method, list(args), cancel_first])
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout)
    return names


@pytest.fixture
def made(emu: RunningEmulator, tmp_path: Path) -> dict[str, str]:
    """A kept model of the emulator's, one training step, a checkpoint and its export."""
    with ServiceClient(emu.base_url, emu.api_key, heartbeat_interval=0) as service:
        trainer = service.create_training_client(BASE_MODEL, keep=True)
        trainer.forward_backward(batch())
        saving = trainer.save_state("first", wait=False)
        checkpoint = saving.result()
        artifact = trainer.export_weights(checkpoint)
    return {
        "model": trainer.model_id,
        "operation": saving.id,
        "checkpoint": str(checkpoint.path),
        "artifact": str(artifact.id),
        "dest": str(tmp_path / "weights"),
    }


FIRST_CALLS: dict[str, Sequence[str]] = {
    "create_training_client": [BASE_MODEL],
    "training_client": ["model"],
    "operation": ["operation"],
    "supported_models": [],
    "iter_models": [],
    "list_models": [],
    "get_model": ["model"],
    "terminate_model": ["model"],
    "create_training_client_from_state": ["checkpoint"],
    "list_artifacts": ["checkpoint"],
    "download_weights": ["artifact", "dest"],
}


def test_every_public_async_method_has_a_first_call_below() -> None:
    assert set(FIRST_CALLS) == _public_async_methods() - {"aclose"}


class _Counting(httpx.AsyncHTTPTransport):
    """Counts the requests sent."""

    sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await super().handle_async_request(request)


@pytest.mark.parametrize("method", sorted(FIRST_CALLS))
async def test_a_first_async_call_loads_off_the_loop_before_its_first_request(
    emu: RunningEmulator, made: dict[str, str], method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process the modules are imported already; what each method must do is load
    # them off the loop before it sends anything. A fresh interpreter checks one below.
    transport = _Counting()
    sent_before_load: list[int] = []

    def load() -> None:
        sent_before_load.append(transport.sent)
        monkeypatch.setattr(_lazy, "_loaded", True)

    monkeypatch.setattr(_lazy, "_loaded", False)
    monkeypatch.setattr(_lazy, "load_deferred", load)
    args = [made.get(arg, arg) for arg in FIRST_CALLS[method]]
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncServiceClient(
            emu.base_url, emu.api_key, http_client=http, heartbeat_interval=0
        ) as service,
    ):
        got = getattr(service, method)(*args)
        _ = [x async for x in got] if inspect.isasyncgen(got) else await got
    assert sent_before_load == [0]
    assert transport.sent > 0


@pytest.mark.parametrize("method", ["supported_models", "create_training_client"])
def test_a_first_async_call_imports_nothing_on_the_event_loop(
    emu: RunningEmulator, method: str
) -> None:
    assert _first_call_imports_on_loop(emu, method, FIRST_CALLS[method]) == []


def test_a_call_after_a_cancelled_first_one_imports_nothing_on_the_event_loop(
    emu: RunningEmulator,
) -> None:
    # The cancelled call's import goes on in its thread; the next call waits for it there.
    assert _first_call_imports_on_loop(emu, "supported_models", [], cancel_first=True) == []

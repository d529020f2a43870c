"""Fixtures for the facade against the emulator, over real HTTP on a free local port.

Each test gets its own emulator (it starts in milliseconds), so tests share
no state and may configure latency, faults or long-poll support freely.
Requests are recorded through the event hooks of the ``httpx`` client the
facade is given, one entry per attempt (retries included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support.integration import (
    API_KEY,
    BASE_MODEL,
    FAST_RETRY,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import (
    AsyncServiceClient,
    ServiceClient,
    TrainingClient,
)
from weaver_facade.emulator import RunningEmulator, run_emulator


@pytest.fixture
def emulator_config() -> dict[str, Any]:
    """Extra ``EmulatorConfig`` fields for this test's emulator (override per module/test)."""
    return {}


@pytest.fixture
def emu(emulator_config: dict[str, Any]) -> Iterator[RunningEmulator]:
    with run_emulator(api_keys=(API_KEY,), **emulator_config) as running:
        yield running


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_service(emu: RunningEmulator, recorder: Recorder) -> Iterator[ServiceFactory]:
    """Make ServiceClients on this test's emulator; all are closed at the end of the test."""
    made: list[tuple[ServiceClient, httpx.Client]] = []

    def make(**kwargs: Any) -> ServiceClient:
        http = httpx.Client(event_hooks={"request": [recorder.sync_hook]})
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("api_key", emu.api_key)
        service = ServiceClient(emu.base_url, http_client=http, **kwargs)
        made.append((service, http))
        return service

    yield make
    for service, http in made:
        service.close()
        http.close()


@pytest.fixture
def service(make_service: ServiceFactory) -> ServiceClient:
    return make_service()


@pytest.fixture
def trainer(service: ServiceClient) -> TrainingClient:
    """A model of the base model after one training step."""
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    trainer.forward_backward(batch())
    trainer.optim_step()
    return trainer


@pytest.fixture
async def make_async_service(
    emu: RunningEmulator, recorder: Recorder
) -> AsyncIterator[AsyncServiceFactory]:
    """Make AsyncServiceClients on this test's emulator; all are closed at the end."""
    made: list[tuple[AsyncServiceClient, httpx.AsyncClient]] = []

    def make(**kwargs: Any) -> AsyncServiceClient:
        http = httpx.AsyncClient(event_hooks={"request": [recorder.async_hook]})
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("api_key", emu.api_key)
        service = AsyncServiceClient(emu.base_url, http_client=http, **kwargs)
        made.append((service, http))
        return service

    yield make
    for service, http in made:
        await service.aclose()
        await http.aclose()

"""Fixtures: an in-process emulator with two tenants and a hand-moved clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.emulator import KEY_A, KEY_B, Api, AppFactory, FakeClock
from weaver_facade.emulator import EmulatorConfig, create_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    # A subdirectory, so tests can check that nothing is written beside it.
    return tmp_path / "data"


@pytest.fixture
def make_app(data_dir: Path, clock: FakeClock) -> Iterator[AppFactory]:
    """Build apps on ``data_dir`` (more than one for restart tests); all closed at teardown."""
    apps: list[Starlette] = []

    def make(**overrides: Any) -> Starlette:
        settings: dict[str, Any] = {
            "data_dir": data_dir,
            "api_keys": (KEY_A, KEY_B),
            "clock": clock,
        }
        settings.update(overrides)
        app = create_app(EmulatorConfig(**settings))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.emulator.close()


@pytest.fixture
def app(make_app: AppFactory) -> Starlette:
    return make_app()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=30
    ) as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient) -> Api:
    """Tenant A."""
    return Api(http, KEY_A)


@pytest.fixture
def api_b(http: httpx.AsyncClient) -> Api:
    """Tenant B, on the same emulator."""
    return Api(http, KEY_B)

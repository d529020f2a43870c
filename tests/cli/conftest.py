"""Fixtures for the command line: an emulator per test and a runner bound to it.

``cli(...)`` runs ``weaver-facade`` in-process with click's runner against
this test's emulator (over real HTTP on a free port), with the key in the
environment as a user would have it, and checks what every invocation must
satisfy: no traceback, and the key never printed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cli import API_KEY, Cli, Run, invoke, train_model
from weaver_facade import ServiceClient
from weaver_facade.emulator import RunningEmulator, run_emulator


@pytest.fixture
def emulator_config() -> dict[str, Any]:
    """Extra ``EmulatorConfig`` fields for this test's emulator."""
    return {}


@pytest.fixture
def emu(emulator_config: dict[str, Any]) -> Iterator[RunningEmulator]:
    with run_emulator(api_keys=(API_KEY,), **emulator_config) as running:
        yield running


@pytest.fixture
def cli(emu: RunningEmulator) -> Cli:
    """Run ``weaver-facade ARGS`` against this test's emulator."""

    def run(*args: str, env: dict[str, str | None] | None = None) -> Run:
        base: dict[str, str | None] = {
            "WEAVER_BASE_URL": emu.base_url,
            "WEAVER_API_KEY": API_KEY,
            "WEAVER_LOG": None,
            "COLUMNS": "200",  # tables on one line per row, whatever the terminal
        }
        return invoke(list(args), {**base, **(env or {})})

    return run


@pytest.fixture
def service(emu: RunningEmulator) -> Iterator[ServiceClient]:
    with ServiceClient(emu.base_url, API_KEY, heartbeat_interval=0) as client:
        yield client


@pytest.fixture
def model_id(service: ServiceClient) -> str:
    """A model trained two steps."""
    return train_model(service)


@pytest.fixture
def weaver_log_undone() -> Iterator[None]:
    """WEAVER_LOG sets the level of the package's logger: set it back after the test with
    ``setLevel``, which also empties the loggers' cache of enabled levels (restoring the
    attribute alone left DEBUG records on for the tests that follow in the process)."""
    logger = logging.getLogger("weaver_facade")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def _logger_handlers_kept() -> Iterator[None]:
    """Each test leaves the package logger's handlers as it found them: a command's
    stderr handler left behind (a ``CliState`` never closed) printed the retries of the
    commands of later tests, in the process, which failed instead."""
    logger = logging.getLogger("weaver_facade")
    before = list(logger.handlers)
    yield
    assert logger.handlers == before, "a handler added to the weaver_facade logger stayed"

"""Fixtures for the command line: an emulator per test and a runner bound to it.

``cli(...)`` runs ``weaver-facade`` in-process with click's runner against
this test's emulator (over real HTTP on a free port), with the key in the
environment as a user would have it, and checks what every invocation must
satisfy: no traceback, and the key never printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from weaver_facade import ServiceClient, datum_from_tokens
from weaver_facade.cli import main
from weaver_facade.emulator import RunningEmulator, run_emulator

API_KEY = "cli-secret-key-5b2e77"


@attrs.frozen
class Run:
    """One invocation: exit status and the two streams."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., Run]


@pytest.fixture
def emulator_config() -> dict[str, Any]:
    """Extra ``EmulatorConfig`` fields for this test's emulator."""
    return {}


@pytest.fixture
def emu(emulator_config: dict[str, Any]) -> Iterator[RunningEmulator]:
    with run_emulator(api_keys=(API_KEY,), **emulator_config) as running:
        yield running


def invoke(args: list[str], env: dict[str, str | None]) -> Run:
    runner = CliRunner(env=env)
    result = runner.invoke(main, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{result.output}")
    run = Run(result.exit_code, result.stdout, result.stderr)
    both = run.stdout + run.stderr
    assert "Traceback" not in both, both
    assert API_KEY not in both, both
    return run


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


def train_model(service: ServiceClient, steps: int = 2) -> str:
    """A new weaver-tiny model after ``steps`` training steps; its id."""
    trainer = service.create_training_client("weaver-tiny", seed=3)
    batch = [datum_from_tokens([(5 * i + j) % 256 for j in range(10)]) for i in range(3)]
    for _ in range(steps):
        trainer.forward_backward(batch)
        trainer.optim_step()
    return trainer.model_id


@pytest.fixture
def model_id(service: ServiceClient) -> str:
    """A model trained two steps."""
    return train_model(service)

"""schemathesis holds the emulator to openapi.yaml: every operation, every phase, every check.

Phases examples, coverage and fuzzing run per operation (one pytest item each, via the lazy
fixture-backed schema); the stateful phase follows the spec's links through whole workflows,
with the server wiped before each scenario. Auth lives in the schema's config, as the real
SDK sends it on every request.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.schemas import OpenApiSchema

from weaver_facade.contract import _conformance as conformance
from weaver_facade.emulator import EmulatorConfig, create_app

KEY = "schemathesis-tenant-key"
MAX_EXAMPLES = 25
STATEFUL_SCENARIOS = 80
STATEFUL_STEPS = 12


def schemathesis_config(max_examples: int = MAX_EXAMPLES) -> Any:
    """The contract kit's configuration (semantic statuses, all phases and checks, auth)."""
    return conformance.schemathesis_config(
        api_key=KEY, max_examples=max_examples, stateful_steps=STATEFUL_STEPS
    )


SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


class LateBoundApp:
    """An ASGI app that forwards to the emulator of the running module.

    schemathesis binds its operations to ``schema.app`` when the tests are collected; this
    stand-in lets the real app (and its data dir) exist only while this module's tests run.
    """

    target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "the emulator_app fixture is not active"
        await self.target(scope, receive, send)


def make_schema(max_examples: int = MAX_EXAMPLES) -> tuple[OpenApiSchema, LateBoundApp]:
    """The spec as a schemathesis schema bound to a late-bound app (see ``serving``).

    The checked-in file is what the emulator serves at /openapi.yaml (test_security compares
    the bytes), so loading it from disk tests the same contract without an app at collection
    time. ``tests/reliability`` makes one with a higher ``max_examples``.
    """
    late = LateBoundApp()
    loaded = schemathesis.openapi.from_path(SPEC, config=schemathesis_config(max_examples))
    loaded.app = late
    return loaded, late


@contextlib.contextmanager
def serving(late: LateBoundApp) -> Iterator[Any]:
    """A fresh emulator behind ``late`` for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="weaver-schemathesis-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        late.target = app
        try:
            yield app
        finally:
            late.target = None
            app.state.emulator.close()


schema, APP = make_schema()


@pytest.fixture(scope="module", autouse=True)
def emulator_app() -> Iterator[Any]:
    with serving(APP) as app:
        yield app


@schema.parametrize()
def test_every_operation_conforms(case: Any) -> None:
    case.call_and_validate()


def keyed_case(operation: Any, **parts: Any) -> Any:
    """A case of ``operation`` made by hand, with the API key: the schema's auth config only
    reaches the cases schemathesis generates (a bare ``Case`` gets a 401)."""
    return operation.Case(headers={conformance.API_KEY_HEADER: KEY}, **parts)


def newest_checkpoint_path(loaded: OpenApiSchema, model_id: Any) -> str | None:
    """The path of the model's newest listed checkpoint, asked of the emulator over the wire."""
    if not isinstance(model_id, str):
        return None
    listing = loaded["/api/v1/models/{model_id}/checkpoints"]["GET"]
    response = keyed_case(listing, path_parameters={"model_id": model_id}).call()
    items = response.json().get("items") if response.status_code == 200 else None
    if not items:
        return None
    path: str = items[-1]["path"]
    return path


def test_stateful_workflows_conform(emulator_app: Any) -> None:
    run_stateful(schema, emulator_app, STATEFUL_SCENARIOS)


def run_stateful(loaded: OpenApiSchema, emulator_app: Any, scenarios: int) -> None:
    """Run ``scenarios`` stateful workflows of ``loaded`` against ``emulator_app``."""
    emulator = emulator_app.state.emulator

    adapted = conformance.adapt_workflow(
        loaded.as_state_machine(),
        create_session=loaded["/api/v1/sessions"]["POST"],
        base_model="weaver-tiny",
        vocab_size=256,
        checkpoint_path=lambda model_id: newest_checkpoint_path(loaded, model_id),
    )

    class Workflow(adapted):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            emulator.reset()

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=scenarios,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            # A failure is reported as found: shrinking whole workflows against a live
            # server can outlast the test's timeout and then reads as flaky data generation.
            phases=(hypothesis.Phase.explicit, hypothesis.Phase.reuse, hypothesis.Phase.generate),
        )
    )

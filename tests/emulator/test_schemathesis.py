"""schemathesis holds the emulator to openapi.yaml: every operation, every phase, every check.

Phases examples, coverage and fuzzing run per operation (one pytest item each, via the lazy
fixture-backed schema); the stateful phase follows the spec's links through whole workflows,
with the server wiped before each scenario. Auth lives in the schema's config, as the real
SDK sends it on every request.

Random ids name nothing, and the stateful workflows rarely get as far as a done save, so
left alone schemathesis would validate no reply that holds a resource made by a workflow
(a Checkpoint, an Artifact, a done operation's result). Each per-operation item therefore
starts from an emulator seeded with one of each (``seed``), and the spec's example ids in its
cases name those (``Seeded.aim``); each stateful scenario starts from a seeded emulator too,
with the seeded save's done operation as its first step, whose links lead on to the
checkpoint, its export and its artifacts. ``Operation.response`` is free-form in the spec,
so each done operation's result is also checked against the schema of its kind
(``operation_results_conform``). What each item must have validated is ``EXPECTED_REPLIES``
(``STATEFUL_EXPECTED`` for the workflows): an item that never saw it fails, so the seeding
cannot quietly stop reaching them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.schemathesis_support import (
    CONTRACT,
    EXPECTED_REPLIES,
    ONE_SEEDING_PER_ITEM,
    STATEFUL_EXPECTED,
    STATEFUL_SCENARIOS,
    Seeded,
    make_schema,
    run_stateful,
    seeded_item,
    serving,
)

schema, APP = make_schema()


@pytest.fixture(scope="module", autouse=True)
def emulator_app() -> Iterator[Any]:
    with serving(APP) as app:
        yield app


@pytest.fixture
def seeded(emulator_app: Any, request: pytest.FixtureRequest) -> Iterator[Seeded]:
    yield from seeded_item(emulator_app, request)


@schema.parametrize()
@ONE_SEEDING_PER_ITEM
def test_every_operation_conforms(case: Any, seeded: Seeded) -> None:
    seeded.conform(case)


def test_expected_replies_name_operations() -> None:
    """A route renamed in the spec would otherwise drop its item's guard without a word."""
    assert set(EXPECTED_REPLIES) <= set(CONTRACT.operations)


def test_stateful_workflows_conform(emulator_app: Any) -> None:
    validated = run_stateful(schema, emulator_app, STATEFUL_SCENARIOS)
    assert validated >= STATEFUL_EXPECTED, sorted(STATEFUL_EXPECTED - validated)

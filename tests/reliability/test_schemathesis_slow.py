"""schemathesis over the whole spec at ten times the default suite's example counts (slow).

The same setup as ``tests/emulator/test_schemathesis.py`` (configuration, semantic
statuses, in-process emulator seeded for each item and each scenario, the check of done
operations' results, what each item must have validated), only with more examples:
``scripts/test --slow`` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.schemathesis_support import (
    MAX_EXAMPLES,
    ONE_SEEDING_PER_ITEM,
    STATEFUL_EXPECTED,
    STATEFUL_SCENARIOS,
    Seeded,
    make_schema,
    run_stateful,
    seeded_item,
    serving,
)

SCALE = 10
schema, APP = make_schema(max_examples=MAX_EXAMPLES * SCALE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def emulator_app() -> Iterator[Any]:
    with serving(APP) as app:
        yield app


@pytest.fixture
def seeded(emulator_app: Any, request: pytest.FixtureRequest) -> Iterator[Seeded]:
    yield from seeded_item(emulator_app, request)


@schema.parametrize()
@ONE_SEEDING_PER_ITEM
def test_every_operation_conforms_at_scale(case: Any, seeded: Seeded) -> None:
    seeded.conform(case)


def test_stateful_workflows_conform_at_scale(emulator_app: Any) -> None:
    validated = run_stateful(schema, emulator_app, STATEFUL_SCENARIOS * SCALE)
    assert validated >= STATEFUL_EXPECTED, sorted(STATEFUL_EXPECTED - validated)

"""schemathesis over the whole spec at ten times the default suite's example counts, and
800 stateful workflows (slow).

The same setup as ``tests/emulator/test_schemathesis.py`` (configuration, semantic
statuses, in-process emulator seeded for each item and each scenario, the check of done
operations' results, what each item must have validated), only with more examples:
``scripts/test --slow`` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator import schemathesis_support as support

SCALE = 10
schema, APP = support.make_schema(max_examples=support.MAX_EXAMPLES * SCALE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def emulator_app() -> Iterator[Any]:
    with support.serving(APP) as app:
        yield app


@pytest.fixture
def seeded(emulator_app: Any, request: pytest.FixtureRequest) -> Iterator[support.Seeded]:
    yield from support.seeded_item(emulator_app, request)


@schema.parametrize()
@support.ONE_SEEDING_PER_ITEM
def test_every_operation_conforms_at_scale(case: Any, seeded: support.Seeded) -> None:
    seeded.conform(case)


# 800 workflows, each from a freshly seeded emulator: about 7 min of CPU, 9 on a
# shared machine, past the suite's 300 s timeout.
@pytest.mark.timeout(1200)
def test_stateful_workflows_conform_at_scale(emulator_app: Any) -> None:
    validated = support.run_stateful(schema, emulator_app, support.STATEFUL_SCENARIOS_AT_SCALE)
    assert validated >= support.STATEFUL_EXPECTED, sorted(support.STATEFUL_EXPECTED - validated)

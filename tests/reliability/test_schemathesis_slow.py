"""schemathesis over the whole spec at ten times the default suite's example counts (slow).

The same setup as ``tests/emulator/test_schemathesis.py`` (configuration, semantic
statuses, in-process emulator, stateful workflows), only with more examples:
``scripts/test --slow`` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.test_schemathesis import (
    MAX_EXAMPLES,
    STATEFUL_SCENARIOS,
    make_schema,
    run_stateful,
    serving,
)

SCALE = 10
schema, APP = make_schema(max_examples=MAX_EXAMPLES * SCALE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def emulator_app() -> Iterator[Any]:
    with serving(APP) as app:
        yield app


@schema.parametrize()
def test_every_operation_conforms_at_scale(case: Any) -> None:
    case.call_and_validate()


def test_stateful_workflows_conform_at_scale(emulator_app: Any) -> None:
    run_stateful(schema, emulator_app, STATEFUL_SCENARIOS * SCALE)

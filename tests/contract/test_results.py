"""Done operations' results are checked against the schema the given spec names for their kind."""

from __future__ import annotations

import copy
import json

from weaver_facade.contract._spec import OperationResults, Spec, load_spec


def _results_of(spec: Spec, response: object) -> list[str]:
    """The problems found in an optimizer step's result."""
    results = OperationResults(spec)
    by_id = {op.operation_id: op for op in spec.operations.values()}
    started = json.dumps({"id": "op-1", "status": "pending", "kind": "optim_step"}).encode()
    done = json.dumps(
        {"id": "op-1", "status": "done", "kind": "optim_step", "response": response}
    ).encode()
    assert results.check(by_id["optim_step"], 202, started) == []
    return [p.message for p in results.check(by_id["get_operation"], 200, done)]


def test_the_result_schema_comes_from_the_spec_under_test() -> None:
    packaged = load_spec()
    example = packaged.document["components"]["schemas"]["OptimStepResult"]["example"]
    assert _results_of(packaged, example) == []
    document = copy.deepcopy(packaged.document)
    marked = document["components"]["schemas"]["OperationResult"]["x-weaver-result-schemas"]
    marked["optim_step"] = "Checkpoint"
    problems = _results_of(Spec(document), example)
    assert problems
    assert all(message.endswith("(result of optim_step)") for message in problems)


def test_a_spec_that_names_no_result_schemas_checks_no_results() -> None:
    bad = {"metrics": "none"}
    assert _results_of(load_spec(), bad) != []
    document = copy.deepcopy(load_spec().document)
    del document["components"]["schemas"]["OperationResult"]["x-weaver-result-schemas"]
    assert _results_of(Spec(document), bad) == []

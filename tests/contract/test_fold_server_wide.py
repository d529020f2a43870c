"""A defect the server has everywhere is one finding: its error bodies' shape too."""

from __future__ import annotations

from weaver_facade.contract._findings import Finding, fold_server_wide

SHAPE = "Error: required fields `error`, `message`, `retryable` missing (got `detail`)"


def finding(operation: str, message: str, check: str = "response_schema_conformance") -> Finding:
    return Finding(
        part="conformance",
        operation=operation,
        check=check,
        message=message,
        expected="x",
        got="y",
    )


def test_an_error_body_shape_in_every_operation_is_one_finding() -> None:
    # A server answering {"detail": ...} gave 27 findings, one per operation.
    operations = [f"GET /api/v1/thing{i}" for i in range(5)]
    folded = fold_server_wide([finding(op, SHAPE) for op in operations])
    assert [f.message for f in folded] == [
        f"{SHAPE}; 4 more replies too (GET /api/v1/thing1, GET /api/v1/thing2, "
        "GET /api/v1/thing3, ...)"
    ]
    assert folded[0].operation == operations[0]


def test_other_schema_findings_stay_one_per_operation() -> None:
    message = "Checkpoint: required field `type` missing"
    folded = fold_server_wide([finding("GET /a", message), finding("GET /b", message)])
    assert [f.operation for f in folded] == ["GET /a", "GET /b"]

"""A right refusal whose Error body gives no code is no note saying `None`.

Against a server whose error bodies lacked the spec's fields, the lifecycle noted
"saving `c`: 409 None, where checkpoint_exists is usual": the body's break is the
watcher's finding, and `None` is no code the server sent.
"""

from __future__ import annotations

from weaver_facade import APIError, ConflictError
from weaver_facade.contract._lifecycle import Scenario, Settings, StepResult
from weaver_facade.contract._spec import load_spec


def refuse(error: APIError) -> list[str]:
    settings = Settings("http://127.0.0.1:9", "k-1", "weaver-tiny", 256, 5.0, "run-1")
    scenario = Scenario(load_spec(), settings, lambda _: None)

    def call() -> None:
        raise error

    result = StepResult("a duplicate name gets 409", "passed")
    scenario.expect_refusal(
        result, "save_checkpoint", call, (409,), "checkpoint_exists", "saving `c`"
    )
    assert result.findings == []
    return scenario.outcome.notes


def test_a_refusal_without_a_code_is_no_note() -> None:
    assert refuse(ConflictError("conflict", status_code=409, code=None)) == []


def test_a_refusal_with_another_code_is_still_a_note() -> None:
    error = ConflictError("conflict", status_code=409, code="name_taken")
    assert refuse(error) == ["saving `c`: 409 name_taken, where checkpoint_exists is usual"]

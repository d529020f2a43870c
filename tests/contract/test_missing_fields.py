"""The kit's "(got ...)" after a missing field names only the fields that may stand for it.

Replies may grow: a field of the server's own beside a missing one is no clue to it.
The hints of the wire's history still come (``test_drift``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fakeserver import checkpoint_json
from weaver_facade.contract._spec import load_spec


def missing(value: dict[str, Any]) -> tuple[str, str]:
    [problem] = load_spec().check_schema("Checkpoint", value)
    return problem.message, problem.got


WITHOUT = {k: v for k, v in checkpoint_json("m-1", "a").items() if k != "created_at"}


def test_an_unrelated_unknown_field_is_no_hint() -> None:
    assert missing({**WITHOUT, "x_unknown": 1}) == (
        "Checkpoint: required field `created_at` missing",
        "no such field",
    )


@pytest.mark.parametrize(
    "extra",
    [{"checkpoint_created_at": "t"}, {"createdAt": "t"}, {"wrapped": {"created_at": "t"}}],
    ids=["its-words", "its-name-camel-case", "a-wrapper"],
)
def test_a_field_that_may_stand_for_it_is_the_hint(extra: dict[str, Any]) -> None:
    [name] = extra
    assert missing({**WITHOUT, "x_unknown": 1, **extra}) == (
        f"Checkpoint: required field `created_at` missing (got `{name}`)",
        f"`{name}` instead",
    )

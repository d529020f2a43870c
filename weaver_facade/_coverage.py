"""Which spec fields the facade neither maps nor leaves out on purpose.

Each converter declares its ``WireFields`` next to it; this module only collects
them. The unit tests fail on any field listed here, and ``scripts/regenerate``
prints the list after regenerating, so a field added to the spec is seen at once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import attrs

from ._checkpoints import CHECKPOINT_FIELDS
from ._operations import OPERATION_FIELDS
from ._training import MODEL_FIELDS
from ._types import RESULT_FIELDS
from ._wire import WireFields

__all__ = ["WIRE_FIELDS", "uncovered_fields"]

WIRE_FIELDS: tuple[WireFields, ...] = (
    CHECKPOINT_FIELDS,
    MODEL_FIELDS,
    *RESULT_FIELDS,
    *OPERATION_FIELDS,
)


def spec_fields(model: type[Any]) -> list[str]:
    """The spec's field names of a generated model (``type_`` is the spec's ``type``)."""
    return [f.name.rstrip("_") for f in attrs.fields(model) if f.name != "additional_properties"]


def uncovered_fields(models: ModuleType | None = None) -> list[str]:
    """``Schema.field`` for each spec field without a facade attribute or a reason.

    ``models`` is the generated ``models`` package to read (default: the installed one).
    Also listed: a declaration naming a field the spec no longer has.
    """
    if models is None:
        from weaver_client import models
    problems: list[str] = []
    for fields in WIRE_FIELDS:
        names = spec_fields(getattr(models, fields.schema))
        attributes = {a.name for a in attrs.fields(fields.facade)}
        for name in names:
            if name not in fields.left_out and fields.mapped.get(name, name) not in attributes:
                problems.append(f"{fields.schema}.{name}")
        problems.extend(
            f"{fields.schema}.{name} (declared, but not in the spec)"
            for name in _declared(fields)
            if name not in names
        )
    return problems


def _declared(fields: WireFields) -> Iterable[str]:
    return [*fields.mapped, *fields.left_out]


def main() -> int:
    """Print the uncovered fields (for ``scripts/regenerate``); 1 if there are any."""
    problems = uncovered_fields()
    if problems:
        print("spec fields the facade neither maps nor leaves out (with a reason):")
        for problem in problems:
            print(f"  - {problem}")
        print("map each in the facade type, or add it to `left_out` next to its converter")
        return 1
    print("every spec field the facade converts is mapped or left out with a reason")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every attribute of a facade result reaches the CLI's ``--json``.

The field coverage makes a field the spec adds reach the facade's types; this makes it
reach the command line too: a ``--json`` renderer that never reads an attribute of the
value it renders names it here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs
import pytest

from tests.support.facade_values import CONVERTERS
from tests.support.spec_values import SCHEMAS, every_field
from weaver_facade import OperationHandle, OperationStatus
from weaver_facade._cli._output import (
    artifact_json,
    checkpoint_json,
    load_json,
    operation_json,
    result_json,
)
from weaver_facade._cli.models import base_model_json, model_json


class Reads:
    """``value``, recording which of its attributes are read."""

    def __init__(self, value: object) -> None:
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "read", set())

    @property  # type: ignore[misc]  # isinstance() of the value it stands for
    def __class__(self) -> type[Any]:
        return type(object.__getattribute__(self, "_value"))

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(object.__getattribute__(self, "_value"), name)


# schema -> how the CLI renders its facade value.
RENDERED: Mapping[str, Callable[[Any], object]] = {
    "Checkpoint": checkpoint_json,
    "Artifact": artifact_json,
    "LoadResult": lambda r: load_json(r, None),
    "Model": model_json,
    "SupportedModel": base_model_json,
    "ForwardBackwardResult": result_json,
    "OptimStepResult": result_json,
}


@pytest.mark.parametrize("schema", sorted(RENDERED))
def test_json_reads_every_attribute(schema: str) -> None:
    value = CONVERTERS[schema](every_field(SCHEMAS[schema]))
    assert attrs.has(type(value)), type(value)
    proxy = Reads(value)
    RENDERED[schema](proxy)
    names = set(attrs.fields_dict(cast("type[attrs.AttrsInstance]", type(value))))
    assert names - proxy.read == set(), f"{schema}: not in --json"


# An Operation's converter keeps a private snapshot, which no renderer above takes: where
# each of its attributes reaches a user, on the handle (`OperationHandle.NAME`) and in
# `operations show --json` (a key of operation_json), or why it need not.
OPERATION_REACHES: Mapping[str, tuple[str | None, str | None]] = {
    "id": ("id", "id"),
    "status": ("status", "status"),
    "kind": ("kind", "kind"),
    "model_id": ("model_id", "model_id"),
    "created_at": ("created_at", "created_at"),
    "updated_at": ("updated_at", "updated_at"),
    "pending_info": ("pending_info", "pending_info"),
    "response": ("result", "result"),
    "conversion": ("progress", None),  # OperationProgress.conversion; the progress line
    # OperationFailedError's code, message, details and retryable, and `error` in JSON.
    "error_code": ("result", "error"),
    "error_message": ("result", "error"),
    "error_details": ("result", "error"),
    "retryable": ("result", "error"),
    "revision": (None, None),  # sent back by long-poll only: opaque to a user
}


def test_every_operation_attribute_reaches_the_user() -> None:
    # `Operation.priority`, mapped into the snapshot, passed the coverage and this file,
    # and reached neither the handle nor the CLI.
    from weaver_facade._operations import OperationSnapshot

    names = set(attrs.fields_dict(OperationSnapshot))
    assert names - set(OPERATION_REACHES) == set(), "OperationSnapshot: not in OPERATION_REACHES"
    assert set(OPERATION_REACHES) - names == set(), "OPERATION_REACHES: not in OperationSnapshot"
    keys = set(operation_json("op-1", OperationStatus.DONE.value, None))
    for name, (handle, key) in OPERATION_REACHES.items():
        assert handle is None or hasattr(OperationHandle, handle), (name, handle)
        assert key is None or key in keys, (name, key)

"""Facade values made from the spec's own examples by the facade's converters, for
tests that need one of each type the wire gives (``spec_values.every_field``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from weaver_client import models as wire

from weaver_facade._artifacts import artifact_from_wire, descriptor_from_wire
from weaver_facade._checkpoints import checkpoint_from_wire
from weaver_facade._models import base_model_from_wire, model_info_from_wire
from weaver_facade._operations import snapshot_from_wire
from weaver_facade._types import forward_backward_result, load_result, optim_step_result
from weaver_facade._wire import error_from_response

# The operation named in the converters' errors.
OP = "trial"
# Each schema the facade converts, and how: a converted value of the spec's example.
CONVERTERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "Checkpoint": lambda v: checkpoint_from_wire(OP, wire.Checkpoint.from_dict(v)),
    "Artifact": lambda v: artifact_from_wire(OP, wire.Artifact.from_dict(v)),
    "DownloadDescriptor": lambda v: descriptor_from_wire(wire.DownloadDescriptor.from_dict(v)),
    "Model": lambda v: model_info_from_wire(OP, wire.Model.from_dict(v)),
    "SupportedModel": lambda v: base_model_from_wire(OP, wire.SupportedModel.from_dict(v), ""),
    "ForwardBackwardResult": lambda v: forward_backward_result(OP, v, None),
    "OptimStepResult": lambda v: optim_step_result(OP, v),
    "LoadResult": lambda v: load_result(OP, v, path=None, include_optimizer=None, model_id=None),
    "Operation": lambda v: snapshot_from_wire(OP, wire.Operation.from_dict(v)),
    "Error": lambda v: error_from_response(OP, httpx.Response(400, json=v)),
}

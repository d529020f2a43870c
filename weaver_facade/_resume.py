"""One-call resume: the I/O-free plan behind ``create_training_client_from_state``.

Besides the usual steps of a plan (``Call``, ``Submission``), ``resume_plan``
yields one ``NewModel``: the service clients create that model (opening the
session if needed, and remembering it for cleanup) and reply with its
``ModelInfo``.

The order is what makes the resume safe: the checkpoint is looked up first, and
one without optimizer state is refused for ``with_optimizer=True`` before any
model exists; then the source model's settings are read, a matching model is
created and the checkpoint is loaded into it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeAlias

import attrs

from . import _calls as calls
from . import _lookup as lookup
from ._args import check_bool
from ._checkpoints import (
    Checkpoint,
    CheckpointStatus,
    coerce_checkpoint_ref,
)
from ._errors import CheckpointNotReadyError
from ._io import Submission
from ._models import DEFAULT_LORA_RANK, LoraSettings, ModelInfo, model_plan
from ._training import check_optimizer_state, load_submission
from ._types import LoadResult
from ._wire import Call

__all__ = ["NewModel", "ResumeStep", "resume_plan"]


@attrs.frozen(kw_only=True)
class NewModel:
    """Create a training model with these settings."""

    base_model: str
    training_mode: str
    lora: LoraSettings | None

    def describe(self, model: ModelInfo) -> ModelInfo:
        """``model``, created from these settings, with those its reply left out
        (the real service need not describe them)."""
        mode = model.training_mode or self.training_mode
        lora = model.lora
        if lora is None and mode == self.training_mode:
            lora = self.lora
        rank = None if lora is None else lora.rank
        return attrs.evolve(model, training_mode=mode, lora=lora, lora_rank=rank)


ResumeStep: TypeAlias = Call[Any] | NewModel | Submission[LoadResult]
ResumePlan: TypeAlias = Generator[ResumeStep, Any, tuple[ModelInfo, LoadResult]]


def resume_plan(checkpoint: object, with_optimizer: object) -> ResumePlan:
    """The steps of resuming ``checkpoint`` into a new model; returns it and the load result.

    ``checkpoint`` is a ``Checkpoint`` (used as it is), a path or a checkpoint id
    (looked up). Bad arguments raise on the first step, before any request.
    """
    with_optimizer = check_bool("with_optimizer", with_optimizer)
    target = coerce_checkpoint_ref(checkpoint)
    if isinstance(target, Checkpoint):
        found = target
    else:
        # A bare id names no model whose list could stand in for checkpoint-by-id.
        found = yield from lookup.by_ref(target, None)
    if found.status is not CheckpointStatus.COMPLETED:
        raise CheckpointNotReadyError(
            f"checkpoint {found.path} is {found.status.value}, not completed; "
            "only a completed checkpoint can be resumed",
            code="checkpoint_not_ready",
            details={"path": str(found.path), "status": found.status.value},
        )
    if with_optimizer:
        check_optimizer_state(found)
    source = yield from model_plan(calls.get_model(found.model_id))
    # A server that leaves the mode out created the model in the wire's default mode,
    # unless it describes LoRA settings.
    mode = source.training_mode or "lora"
    lora = source.lora
    if lora is None and mode == "lora":  # described without its settings
        lora = LoraSettings(rank=DEFAULT_LORA_RANK)
    model: ModelInfo = yield NewModel(base_model=source.base_model, training_mode=mode, lora=lora)
    result: LoadResult = yield load_submission(model.id, found.path, with_optimizer)
    return model, result

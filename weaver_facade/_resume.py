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

from collections.abc import Callable, Container, Generator
from typing import Any, TypeAlias

from . import _calls as calls
from . import _lookup as lookup
from ._args import check_bool
from ._checkpoints import (
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    coerce_checkpoint_ref,
)
from ._errors import (
    NOT_READY_NOTE,
    CheckpointNotReadyError,
    IncompatibleCheckpointError,
    InvalidArgumentError,
    NotFoundError,
    OperationFailedError,
)
from ._io import Submission
from ._logs import logger
from ._models import (
    DEFAULT_LORA_RANK,
    LoraSettings,
    ModelInfo,
    NewModel,
    check_base_model,
    model_plan,
)
from ._operations import PollPolicy
from ._plans import Call
from ._training import check_optimizer_state, load_submission
from ._types import LoadResult

ResumeStep: TypeAlias = Call[Any] | NewModel | Submission[LoadResult]
ResumePlan: TypeAlias = Generator[ResumeStep, Any, tuple[ModelInfo, LoadResult]]


def resume_plan(
    checkpoint: object,
    with_optimizer: object,
    settings: Callable[[str], NewModel | None],
    base_model: object,
    server: PollPolicy | None = None,
    deleted_here: Container[object] = (),
) -> ResumePlan:
    """The steps of resuming ``checkpoint`` (a ``Checkpoint``, a path or a checkpoint id)
    into a new model, as the module's docstring says; returns it and the load result.
    Bad arguments raise on the first step, before any request. ``server``: the client's
    policy, which tells whether the server reads checkpoints by id (``lookup.by_id``);
    ``deleted_here``: the ids and paths of checkpoints this client deleted."""
    with_optimizer = check_bool("with_optimizer", with_optimizer)
    asked = None if base_model is None else check_base_model(base_model)
    target = coerce_checkpoint_ref(checkpoint)
    if isinstance(target, Checkpoint) and target.status is CheckpointStatus.COMPLETED:
        found = target
    else:
        # A bare id names no model whose list could stand in for checkpoint-by-id. A
        # Checkpoint not completed is read again: its status may be stale (a save's result,
        # pending when its operation ended, that the server has completed since).
        try:
            found = yield from lookup.by_ref(target, None, server, deleted_here)
        except NotFoundError as missing:
            if isinstance(target, CheckpointPath) and missing.status_code == 404:
                missing.add_note(_unlisted(target, with_optimizer))  # its listing refused
            raise
    if found.status is not CheckpointStatus.COMPLETED:
        refused = CheckpointNotReadyError(
            f"checkpoint {found.path} is {found.status.value}, not completed; "
            "only a completed checkpoint can be resumed",
            code="checkpoint_not_ready",
            details={"path": str(found.path), "status": found.status.value},
        )
        if found.status is CheckpointStatus.PENDING:  # as the server's refusal says
            refused.add_note(NOT_READY_NOTE)
        raise refused
    if with_optimizer:
        check_optimizer_state(
            found, "create_training_client_from_state", "pass with_optimizer=False"
        )
    try:
        source = yield from model_plan(calls.get_model(found.model_id))
    except NotFoundError as missing:
        # Forgotten once terminated (``lookup.kept_of_forgotten``): a model the server
        # does not describe, as one it gives the id of alone.
        if isinstance(target, Checkpoint):
            # Used as it was given, unlooked-up: only its listing tells that it is still
            # there (not stale, nor another key's) before a model is made for it.
            kept = yield from lookup.kept_of_forgotten(
                found.model_id, lambda c: c.name == found.name
            )
            if kept is None:
                missing.add_note(_unlisted(found.path, with_optimizer))
                raise missing from None
        logger.info(
            "the server no longer finds model %s (terminated?): resuming its checkpoint %s "
            "from what is known of it",
            found.model_id,
            found.path,
        )
        source = ModelInfo(id=found.model_id)
    new, guessed = _like(source, settings(source.id), asked)
    if guessed:
        # A server that checks the settings refuses the load (said below); one that does
        # not may resume into the wrong shape, so the guess is never silent.
        logger.warning(
            "the server does not describe model %s's settings: the model resuming %s "
            "guesses %s (create_training_client's defaults)",
            source.id,
            found.path,
            guessed,
        )
    model: ModelInfo = yield new
    try:
        result: LoadResult = yield load_submission(model.id, found.path, with_optimizer)
    except IncompatibleCheckpointError as exc:
        if guessed:
            exc.message += _guess_hint(source.id, guessed, "", with_optimizer)
            exc.args = (exc.message,)
        raise
    except OperationFailedError as exc:
        # The wire's load returns an Operation and names no refusal code: a server may
        # accept the load and fail its operation, in a code of its own, on settings that
        # do not fit. The guess may be why, so the error names it too.
        if guessed:
            exc.args = (
                str(exc)
                + _guess_hint(source.id, guessed, ", which may not fit it", with_optimizer),
            )
        raise
    return model, result


def _guess_hint(source_id: str, guessed: str, doubt: str, with_optimizer: bool) -> str:
    """What a failed load of a resume into guessed settings adds to its error."""
    return (
        f"; the server did not describe model {source_id}'s settings, "
        f"so the new model guessed {guessed}{doubt}; to resume it, {_by_hand(with_optimizer)}"
    )


def _unlisted(path: CheckpointPath, with_optimizer: bool) -> str:
    """The note on a resume's 404 of the checkpoint's model, whose listing does not show
    the checkpoint either: one gone, or one of a model the server forgot once terminated."""
    return (
        f"the server no longer finds model {path.model_id} and lists no checkpoint "
        f"{path.name!r} of it; if the checkpoint is still there (a server that forgets a "
        f"terminated model may still load it by its path), to resume {path}, "
        f"{_by_hand(with_optimizer)}"
    )


def _by_hand(with_optimizer: bool) -> str:
    """The resume that needs nothing of the source model: a load into one made to match."""
    load = "load_state_with_optimizer" if with_optimizer else "load_state"
    return f"create a model with its settings (create_training_client) and call {load} on it"


def _like(source: ModelInfo, created: NewModel | None, asked: str | None) -> tuple[NewModel, str]:
    """A model like ``source``: its settings from the server, else from what this client
    created it with (``created``), else (the base model) ``asked``, else guessed (never the
    base model); and what of it was guessed."""
    if created is not None:
        source = created.describe(source)
    base_model = source.base_model or asked
    if base_model is None:
        raise InvalidArgumentError(
            f"the server does not describe model {source.id}'s base model, so no model like "
            "it can be created to resume its checkpoint; pass the base model it was created "
            "from: create_training_client_from_state(..., base_model=...)"
        )
    if asked is not None and asked != base_model:
        raise InvalidArgumentError(
            f"base_model {asked!r} is not the base model of the checkpoint's model "
            f"{source.id}, which was created from {base_model!r}"
        )
    guessed = []
    # A server that leaves the mode out created the model in the wire's default mode
    # (surely so when it describes LoRA settings).
    mode = source.training_mode or "lora"
    lora = source.lora
    if source.training_mode is None and lora is None:
        guessed.append("training_mode 'lora'")
    if lora is None and mode == "lora":
        lora = LoraSettings(rank=DEFAULT_LORA_RANK)
        guessed.append(f"LoRA rank {DEFAULT_LORA_RANK}")
    new = NewModel(base_model=base_model, training_mode=mode, lora=lora)
    return new, " and ".join(guessed)

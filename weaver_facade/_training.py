"""``TrainingClient`` and ``AsyncTrainingClient``: train one model, save and resume it.

Both are thin shells over ``_TrainingBase``, which validates arguments and
builds every request and result parser without I/O.
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Generic, Literal, TypeAlias, TypeVar, overload

from weaver_client import limits
from weaver_client.types import UNSET, Unset

from . import _calls as calls
from . import _lookup as lookup
from ._args import check_bool, check_choice, check_int
from ._artifacts import (
    Artifact,
    ArtifactStatus,
    artifact_again,
    artifact_from_wire,
    artifact_result,
    find_checkpoint,
    find_checkpoint_id,
    list_artifacts_plan,
)
from ._checkpoints import (
    Checkpoint,
    CheckpointLike,
    CheckpointPath,
    CheckpointRef,
    CheckpointStatus,
    CheckpointType,
    checkpoint_from_wire,
    checkpoint_result,
    coerce_checkpoint_path,
    coerce_checkpoint_ref,
    in_model,
    validate_checkpoint_name,
)
from ._errors import (
    APITimeoutError,
    CheckpointExistsError,
    ConflictError,
    ExportInProgressError,
    InvalidArgumentError,
    InvalidDatumError,
    MergeNotSupportedError,
    ModelTerminatedError,
    NotFoundError,
    OptimizerStateUnavailableError,
    ResponseValidationError,
    SeqIdConflictError,
    WeaverError,
)
from ._extensions import CHECKPOINT_BY_ID
from ._io import (
    AsyncIO,
    HandleParts,
    HasOptions,
    Submission,
    SyncIO,
    start_operation,
)
from ._lazy import wire
from ._logs import logger, note_naming_calls, warn_naming_calls
from ._models import CHECKPOINT_PAGE_SIZE, ModelInfo
from ._operations import (
    AsyncOperationHandle,
    Followed,
    OperationHandle,
    OperationSnapshot,
    PollPolicy,
    ResultParser,
    Settler,
    started_snapshot,
)
from ._plans import Build, Call, Exclusive, Plan
from ._recovery import ResourceWatch, SaveIntent, created_since, own_checkpoint, own_export
from ._steps import StepsByModel
from ._types import (
    AdamParams,
    Datum,
    ForwardBackwardResult,
    LoadResult,
    OptimStepResult,
    forward_backward_result,
    load_result,
    optim_step_result,
)
from ._wire import VALUES_ON_LOOP, kind_schemas

LossFnName: TypeAlias = Literal["cross_entropy"]
IO = TypeVar("IO", SyncIO, AsyncIO)
_R = TypeVar("_R")


class _ServerDefault(enum.Enum):
    SERVER_DEFAULT = "server-default"

    def __repr__(self) -> str:
        return "SERVER_DEFAULT"

    __str__ = __repr__  # print() and f-strings too, not "_ServerDefault.SERVER_DEFAULT"


SERVER_DEFAULT: Literal[_ServerDefault.SERVER_DEFAULT] = _ServerDefault.SERVER_DEFAULT
"""The service's default ``ttl_seconds``: left out of a save (permanent for weights);
sent as 7 days in an export."""

TtlSeconds: TypeAlias = int | Literal[_ServerDefault.SERVER_DEFAULT] | None
"""The type of ``ttl_seconds``: seconds, ``None`` (kept until deleted) or
``SERVER_DEFAULT``."""

DEFAULT_ADAM = AdamParams()

OperationResult: TypeAlias = (
    ForwardBackwardResult | OptimStepResult | Checkpoint | LoadResult | Artifact | dict[str, Any]
)
"""What a re-attached operation yields; a raw ``dict`` only when its kind is unknown."""


# -- argument checks ------------------------------------------------------------------------


def _check_data(data: object) -> list[Datum]:
    if isinstance(data, Datum):
        raise InvalidDatumError("forward_backward takes a sequence of Datum, got a single Datum")
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InvalidDatumError(f"forward_backward takes a sequence of Datum, got {data!r:.80}")
    items = list(data)
    low = limits.FORWARD_BACKWARD_INPUT_DATA_MIN_ITEMS
    if len(items) < low:
        raise InvalidDatumError(f"forward_backward takes at least {low} Datum, got {len(items)}")
    for i, datum in enumerate(items):
        if not isinstance(datum, Datum):
            name = type(datum).__name__
            raise InvalidDatumError(
                f"data[{i}] is {'an' if name[:1].lower() in 'aeiou' else 'a'} {name}, not a Datum; "
                "build one with Datum(...) or datum_from_tokens(...)"
            )
    return items


_EXPORT_TTL: int = limits.EXPORT_REQUEST_DEFAULTS["ttl_seconds"]
_FOLLOW = "to follow the checkpoint"
_CHECKPOINT_TTL = (limits.TTL_SECONDS_MINIMUM, limits.TTL_SECONDS_MAXIMUM)
_ARTIFACT_TTL = (limits.ARTIFACT_TTL_SECONDS_MINIMUM, limits.ARTIFACT_TTL_SECONDS_MAXIMUM)


def _check_ttl(
    ttl_seconds: object,
    none: str = "for a permanent checkpoint",
    bounds: tuple[int, int] = _CHECKPOINT_TTL,
) -> int | None:
    """A TTL in the spec's ``bounds``, or ``None`` (whose meaning ``none`` words)."""
    if ttl_seconds is None:
        return None
    return check_int("ttl_seconds", ttl_seconds, *bounds, otherwise=f", or None {none}")


# -- results of re-attached operations ---------------------------------------------------------


def _parse_fb(n_data: int | None) -> ResultParser[ForwardBackwardResult]:
    return lambda snap: forward_backward_result("forward_backward", snap.response, n_data)


def _parse_optim(snap: OperationSnapshot) -> OptimStepResult:
    return optim_step_result("optim_step", snap.response)


def _parse_save(snap: OperationSnapshot) -> Checkpoint:
    return checkpoint_result("save_checkpoint", snap.response)


def _parse_load(
    path: CheckpointPath | None, include: bool | None, model_id: str | None = None
) -> ResultParser[LoadResult]:
    return lambda snap: load_result(
        "load_checkpoint", snap.response, path=path, include_optimizer=include, model_id=model_id
    )


def _saved(snap: OperationSnapshot, server: PollPolicy) -> Followed[Checkpoint] | None:
    """A save's ``Settler.watch`` (``_operations._HandleState._follow``): ``wait=True``
    promises the saved checkpoint, so one not yet completed is watched, read again by id
    (``lookup.by_id``; ``server`` tells whether the server has that route). ``None`` for
    a completed one, and for a result that breaks the spec, whose error ``result()``
    raises."""
    try:
        checkpoint = _parse_save(snap)
    except ResponseValidationError:
        return None
    if checkpoint.status is CheckpointStatus.COMPLETED:
        return None
    watch = ResourceWatch(
        snap.kind or "save_checkpoint",
        checkpoint,
        lambda c: lookup.by_id(c.id, c.model_id, server),
        operation_id=snap.id,
        # A 404 by id from a server known to read ids, also for a checkpoint no read has
        # found yet (its list may lag, not its word).
        said_gone=lambda missing: (
            server.checkpoint_by_id_supported is True and missing.status_code == 404
        ),
    )
    return Followed(snapshot=watch.snapshot(checkpoint), parse=watch.result, look=watch.look)


def _name_taken(error: ConflictError) -> ConflictError:
    """A save's 409 of a code the spec does not name (the wire sheet names none for a
    taken name) as the ``CheckpointExistsError`` it is; other codes, and a 409 without
    an Error body (a proxy's, say), stay as they are."""
    if type(error) is not ConflictError or error.code is None:
        return error
    taken = CheckpointExistsError(error.message)
    taken.__dict__.update(error.__dict__)  # its fields, delivery and notes
    taken.__suppress_context__ = True  # it stands for ``error``, not beside it
    return taken


def _recover_save(intent: SaveIntent, error: ConflictError) -> Plan[Checkpoint]:
    """Our own earlier attempt's checkpoint, or ``error`` again (see ``_recovery``)."""
    since = created_since(error, CheckpointExistsError)
    if since is None:
        raise error
    found = yield from lookup.find(intent.model_id, lambda c: c.name == intent.name)
    if found is None:  # a listing that lags: it may still be ours
        note_naming_calls(
            error,
            "an earlier attempt of this save lost its reply and may have made it, but the "
            "model's checkpoint list does not show it yet: look again with list_checkpoints()",
        )
        raise error
    if not own_checkpoint(intent, found, since):
        raise error
    logger.info(
        "save_checkpoint: the retried save met checkpoint %s, which its own earlier "
        "attempt created; using it",
        found.path,
    )
    return found


def _recover_export(
    checkpoint_id: uuid.UUID, merge_adapter: bool, error: ConflictError
) -> Plan[Artifact]:
    """Our own earlier attempt's export, still running, or ``error`` again (see
    ``_recovery``)."""
    since = created_since(error, ExportInProgressError)
    if since is None:
        raise error
    found = own_export((yield from list_artifacts_plan(checkpoint_id)), since, merge_adapter)
    if found is None:
        raise error
    logger.info(
        "export_checkpoint: the retried export met export %s, which its own earlier "
        "attempt started; waiting for it",
        found.id,
    )
    return found


def _parse_export(kind: str) -> ResultParser[Artifact]:
    return lambda snap: artifact_result(kind, snap)


def _exporting(
    kind: str, wrap: Callable[[ResultParser[Artifact]], ResultParser[Artifact]] = lambda p: p
) -> Settler[Artifact]:
    """An export's ``Settler``: ``wait=True`` promises the completed artifact, so one its
    done operation gives still ``pending`` is watched through its checkpoint's list
    (``artifact_again``), and one that failed is the operation's failure, as for a 200
    with the artifact. ``wrap`` is the parser's, around the artifact watched."""

    def watch(snap: OperationSnapshot, _server: PollPolicy) -> Followed[Artifact] | None:
        try:
            artifact = artifact_result(kind, snap)
        except ResponseValidationError:
            return None  # its error is result()'s
        if artifact.status is ArtifactStatus.COMPLETED:
            return None
        watched = ResourceWatch(snap.kind or kind, artifact, artifact_again, operation_id=snap.id)
        return Followed(
            snapshot=watched.snapshot(artifact), parse=wrap(watched.result), look=watched.look
        )

    return Settler(watch, Artifact.__name__)


# Why an artifact keeps another TTL than the export asked, as far as the reply tells: a 200
# with the artifact is the spec's idempotent hit; a 202 starts an export, or is one of its
# kind still under way (the spec answers both so); a save-and-export, or a forced export
# (its own earlier attempt recovered too), made it anew.
_FORCE = "export_weights(..., force=True) replaces it"
_ALREADY_MADE = f"an export of its kind was already made; {_FORCE}"
_SET_OR_UNDER_WAY = (
    "the server set it, or answered with an export of its kind under way; once that is "
    f"done, {_FORCE}"
)
_SET = "the server set it"


def _kept_as_asked(
    parse: ResultParser[Artifact],
    ttl_seconds: int | None,
    why: str,
    followed: Checkpoint | None = None,
) -> ResultParser[Artifact]:
    """``parse``, with a warning when the artifact keeps a TTL other than the one asked,
    saying ``why`` (``warn_naming_calls``: the command line says it in its words).
    ``followed``: the checkpoint whose retention ``ttl_seconds=None`` asked to follow, when
    known; an artifact follows it with no TTL, the checkpoint's, or its end."""

    def parsed(snap: OperationSnapshot) -> Artifact:
        artifact = parse(snap)
        kept = artifact.ttl_seconds
        asked: object = ttl_seconds
        if ttl_seconds is None and followed is not None:
            asked = f"checkpoint's retention (its ttl_seconds={followed.ttl_seconds})"
            ends = followed.expires_at
            with_it = ends is not None and artifact.expires_at == ends  # its end, its TTL
            other = kept not in (None, followed.ttl_seconds) and not with_it
        else:
            other = None not in (kept, ttl_seconds) and kept != ttl_seconds
        if other:
            said = f"artifact {artifact.id} keeps ttl_seconds={kept}, not the {asked} asked: "
            warn_naming_calls(said + why)
        return artifact

    return parsed


def _parse_raw(snap: OperationSnapshot) -> dict[str, Any]:
    return dict(snap.response or {})


# The parser of each result type, named as its schema; which kind of operation has which
# schema is the spec's word (``kind_schemas``).
_PARSERS: dict[type[Any], Callable[[str], ResultParser[Any]]] = {
    ForwardBackwardResult: lambda kind: _parse_fb(None),
    OptimStepResult: lambda kind: _parse_optim,
    Checkpoint: lambda kind: _parse_save,
    LoadResult: lambda kind: _parse_load(None, None),
    Artifact: _parse_export,
}


#: A save's ``Settler``: its checkpoint, once its operation is done (``_saved``).
_SAVED = Settler(_saved, Checkpoint.__name__)


def check_result_type(result_type: object) -> None:
    """A result type ``operation()`` can parse into, or ``None``; before any request."""
    if result_type is not None and result_type not in tuple(_PARSERS):  # may be unhashable
        names = ", ".join(t.__name__ for t in _PARSERS)
        raise InvalidArgumentError(f"result_type must be one of {names}, got {result_type!r}")


def reattach(
    snapshot: OperationSnapshot, result_type: type[Any] | None
) -> tuple[ResultParser[Any], Settler[Any] | None, str | None]:
    """The result parser of a re-attached operation, from ``result_type`` (already passed
    by ``check_result_type``) and its ``kind`` (without either, the raw ``response``);
    what it waits on once done: a save's checkpoint not yet completed (``_saved``), as
    for the save's own handle; and the name of the type it parses into, for its hints."""
    kinds = kind_schemas()
    kind = snapshot.kind
    if result_type is None:
        if kind is None or kind not in kinds:
            return _parse_raw, None, None
        result_type = next(t for t in _PARSERS if t.__name__ == kinds[kind])
    schema = result_type.__name__
    if kind is not None and kinds.get(kind) != schema:
        raise InvalidArgumentError(
            f"operation {snapshot.id} is of kind {kind}; its result is not {schema}"
        )
    if kind is None:
        kind = next(k for k, v in kinds.items() if v == schema)
    parse = _PARSERS[result_type](kind)
    if parse is _parse_save:
        return parse, _SAVED, schema
    return parse, _exporting(kind) if result_type is Artifact else None, schema


# -- the shared, I/O-free half of both clients ----------------------------------------------------


def load_submission(
    model_id: str, checkpoint: object, include_optimizer: bool
) -> Submission[LoadResult]:
    """Load ``checkpoint`` into ``model_id``; an optimizer load of a ``Checkpoint`` known to
    hold no optimizer state is refused before any request."""
    path = in_model(coerce_checkpoint_path, checkpoint, model_id)
    if include_optimizer and isinstance(checkpoint, Checkpoint):
        check_optimizer_state(checkpoint)
    call = calls.load_checkpoint(model_id, path=path, include_optimizer=include_optimizer)
    state = "weights and optimizer state" if include_optimizer else "weights"
    on_its_way = (
        f"the request to load {path} into model {model_id} was on its way: the server may "
        f"have loaded it, replacing the model's {state}"
    )
    call = call._replace(on_its_way=on_its_way)
    return Submission(call, _parse_load(path, include_optimizer, model_id), model_id)


def check_optimizer_state(
    checkpoint: Checkpoint,
    caller: str = "load_state_with_optimizer",
    weights_only: str = "use load_state",
) -> None:
    """Refuse a checkpoint without optimizer state for a load that restores it; the
    message names the ``caller`` and its way (``weights_only``) to load the weights."""
    if not checkpoint.has_optimizer_state:
        raise OptimizerStateUnavailableError(
            f"checkpoint {checkpoint.path} is of type {checkpoint.type.value!r} and holds no "
            f"optimizer state; {caller} needs a 'weight_and_optimizer' checkpoint "
            f"(save_state(..., include_optimizer=True)); {weights_only} to restore "
            "the weights only",
            code="optimizer_state_unavailable",
            details={"path": str(checkpoint.path), "type": checkpoint.type.value},
        )


class _TrainingBase(HasOptions, Generic[IO]):
    _io: IO

    def __init__(
        self,
        io: IO,
        model: ModelInfo,
        *,
        next_seq_id: int | None = 1,
        resumed_from: LoadResult | None = None,
        forgotten: bool = False,
        steps: StepsByModel | None = None,
    ) -> None:
        self._io = io
        self._model = model
        self._forgotten = forgotten  # the server no longer finds the model
        self._steps = (steps or StepsByModel()).join(model, next_seq_id, io.lock)
        if resumed_from is not None:
            self._steps.resumed_from = resumed_from

    def _next_seq_id(self) -> int:
        """The model's next ``seq_id``, which ``_step`` takes once its request is built."""
        seq_id = self._steps.next_seq_id
        if seq_id is None and self._forgotten:
            raise InvalidArgumentError(self._no_longer_found())
        if seq_id is None:
            raise InvalidArgumentError(
                f"this client was attached to model {self.model_id} without next_seq_id, so "
                "it cannot number training steps: pass training_client(model_id, "
                "next_seq_id=<last seq_id + 1>), or create a new model and resume it with "
                "load_state_with_optimizer. Checkpoint methods work without it."
            )
        return seq_id

    def _no_longer_found(self) -> str:
        """What may be done with a model the server no longer found when attached."""
        return (
            f"model {self.model_id}: the server no longer finds it (terminated?), so "
            "this client, attached for its checkpoints, cannot train it. They can still "
            "be listed, exported and downloaded, and deleted where the server has the "
            f"{CHECKPOINT_BY_ID} extension."
        )

    def _noting_lost(self, plan: Plan[HandleParts[_R]]) -> Plan[HandleParts[_R]]:
        """``plan``, whose 404 says so when the server knew the model when this client was
        made and finds it no more: each call of the model got a bare ``not found``. Its
        ``GET`` tells: a model it finds means the 404 was another thing's (a checkpoint's);
        one that fails tells nothing. A model this client terminated meanwhile is said so."""
        try:
            return (yield from plan)
        except NotFoundError as exc:
            if self._forgotten:
                # A save, a load too: a server that forgets a terminated model answers
                # them so, not 409.
                exc.add_note(self._no_longer_found())
                raise
            lost = not self._steps.terminated and (yield from self._not_found_either())
            # This client's own terminate_model, while the call was on its way (asked after
            # the GET too, which it may outrun): neither a restart nor another client.
            if self._steps.terminated:
                exc.add_note(
                    f"model {self.model_id} was terminated by this client (terminate_model) "
                    "while this call was on its way"
                )
            elif lost:
                exc.add_note(
                    f"model {self.model_id}, which the server knew when this client was "
                    "made, is no longer found there (its GET is a 404 too): the server may "
                    "have restarted without its state, or another client terminated the "
                    "model; create a new model (create_training_client_from_state, from a "
                    "checkpoint the server still lists)"
                )
            raise

    def _not_found_either(self) -> Plan[bool]:
        try:
            yield calls.get_model(self.model_id)
        except NotFoundError as missing:
            # A 404 that is no Weaver error (a framework's page) is a server without the
            # route, which says nothing of the model.
            return missing.code is not None
        except WeaverError:
            return False
        return False

    def _in_turn(
        self, operation: str, plan: Plan[HandleParts[_R]], live: bool
    ) -> Plan[HandleParts[_R]]:
        """``plan``, which starts an operation; a ``live`` call, one that needs the model
        itself, not only its checkpoints, runs it in the model's turn: after the model's
        earlier steps, saves, loads and exports, within the call's timeout (``_step`` takes
        its ``seq_id`` in it), and is refused once this client terminated the model. An
        export of a saved checkpoint is not ``live``, and takes no turn: no step changes
        what it exports."""
        if not live:
            return (yield from plan)
        self._check_live(operation)
        timeout = self._io.options.timeout

        def late(waited: float | None) -> APITimeoutError:
            return APITimeoutError(
                f"{operation}: the model's earlier training step, save, load or export was "
                f"still being sent after {timeout:g} s, the call's timeout; nothing was sent"
            )

        parts: HandleParts[_R] = yield Exclusive(self._steps.lock, self._noting_lost(plan), late)
        return parts

    def _check_live(self, operation: str) -> None:
        # A server need not say `model_terminated` (the wire sheet names no error codes).
        if self._steps.terminated:
            raise ModelTerminatedError(
                f"{operation}: model {self.model_id} was terminated by this client "
                "(terminate_model); its checkpoints stay, to list, export, download, or "
                "resume in a new model with create_training_client_from_state",
                code="model_terminated",
                details={"model_id": self.model_id},
            )

    @property
    def model_id(self) -> str:
        """The server's id of the training model."""
        return self._model.id

    @property
    def model(self) -> ModelInfo:
        """The model as the server described it (base model, mode, tokenizer path)."""
        return self._model

    @property
    def resumed_from(self) -> LoadResult | None:
        """The load that ``create_training_client_from_state`` started this model with.

        Known to that call's service client alone (all its training clients of the model):
        the server keeps no record of the load, so another service client's
        ``training_client(model_id)`` of that model has ``None``."""
        return self._steps.resumed_from

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_id={self._model.id!r}, "
            f"base_model={self._model.base_model!r})"
        )

    # The plans' arguments are checked when the plan is made, before the model's turn:
    # a bad one is its own error at once, not a timeout behind the model's earlier calls.

    def _forward_backward(
        self, data: object, loss_fn: object
    ) -> Plan[HandleParts[ForwardBackwardResult]]:
        items = _check_data(data)
        fn = check_choice("loss_fn", loss_fn, [v.value for v in wire.LossFn])
        return self._step(
            lambda seq_id: calls.forward_backward(
                self.model_id, seq_id=seq_id, data=items, loss_fn=fn
            ),
            _parse_fb(len(items)),
            f"run it, and its gradients then add to those of model {self.model_id}'s next "
            "optim_step",
            large=sum(len(d.tokens) + len(d.target_tokens) + len(d.weights) for d in items)
            > VALUES_ON_LOOP,
        )

    def _optim_step(self, adam_params: object) -> Plan[HandleParts[OptimStepResult]]:
        if not isinstance(adam_params, AdamParams):
            raise InvalidArgumentError(
                f"adam_params must be an AdamParams, got {type(adam_params).__name__}"
            )
        return self._step(
            lambda seq_id: calls.optim_step(self.model_id, seq_id=seq_id, adam_params=adam_params),
            _parse_optim,
            f"applied it to model {self.model_id}'s weights",
        )

    def _load(self, checkpoint: object, include_optimizer: bool) -> Plan[HandleParts[LoadResult]]:
        submission = load_submission(self.model_id, checkpoint, include_optimizer)
        path = in_model(coerce_checkpoint_path, checkpoint, self.model_id)
        return self._load_plan(submission, path)

    def _load_plan(
        self, submission: Submission[LoadResult], path: CheckpointPath
    ) -> Plan[HandleParts[LoadResult]]:
        with self._noting_deleted(path):
            return (yield from start_operation(submission))

    @contextlib.contextmanager
    def _noting_deleted(self, path: CheckpointPath) -> Iterator[None]:
        """A 404 of a request that sends ``path``, which says so of one this client
        deleted (sent all the same: another process may have saved the name since)."""
        try:
            yield
        except NotFoundError as exc:
            if path in self._steps.deleted:
                exc.add_note(f"this client deleted checkpoint {path}")
            raise

    def _step(
        self,
        call: Callable[[int], Call[wire.Operation]],
        parse: ResultParser[_R],
        done: str,
        *,
        large: bool = False,
    ) -> Plan[HandleParts[_R]]:
        """A training step; ``done``: what the server may have done with a request cut
        on its way. A ``large`` one's request is built (``Build``) in the model's turn,
        as any other's, so that the steps still go out in the order of their calls."""
        seq_id = self._next_seq_id()
        if large:
            step = yield Build(lambda: calls.with_json_encoded(call(seq_id)))
        else:
            step = call(seq_id)
        # Taken (under the lock: ``_run_operation``) once built: a step cancelled in its build
        # sent nothing, and the next must carry the highest seq_id used plus 1. A count
        # set meanwhile (``StepsByModel.join``, the caller's word) stays.
        if self._steps.next_seq_id == seq_id:
            self._steps.next_seq_id = seq_id + 1
        on_its_way = (
            f"the request of {step.op_id} (seq_id {seq_id}) was on its way: the server "
            f"may have {done}"
        )
        submission = Submission(step._replace(on_its_way=on_its_way), parse, self.model_id)
        try:
            return (yield from start_operation(submission))
        except SeqIdConflictError as exc:
            # The caller never chose a seq_id: say whose count is behind, and how to go on.
            exc.add_note(
                f"this client numbers model {self.model_id}'s steps itself, and another "
                f"client training the model (another process or ServiceClient), or a "
                f"next_seq_id= given too low, took seq_id {seq_id} first: this step was not "
                "done. Train a model from one client; to go on from the server's count, "
                f"attach again with service.training_client({self.model_id!r}) (or pass "
                "next_seq_id= where the server does not say its own)"
            )
            raise

    def _save(
        self, name: object, include_optimizer: object, ttl: object
    ) -> Plan[HandleParts[Checkpoint]]:
        checked = validate_checkpoint_name(name)
        ttl_seconds: int | Unset | None = UNSET if ttl is SERVER_DEFAULT else _check_ttl(ttl)
        # None would be falsy: a weight-only save, which cannot resume the optimizer.
        with_optimizer = check_bool("include_optimizer", include_optimizer)
        kind = CheckpointType.WEIGHT_AND_OPTIMIZER if with_optimizer else CheckpointType.WEIGHT
        return self._save_plan(SaveIntent(self.model_id, checked, kind, ttl_seconds))

    def _save_plan(self, intent: SaveIntent) -> Plan[HandleParts[Checkpoint]]:
        """Start a save: a handle's parts, from the reply or, for a 409, from our own
        earlier attempt's checkpoint."""
        call = calls.save_checkpoint(
            self.model_id,
            checkpoint_type=intent.type,
            name=intent.name,
            ttl_seconds=intent.ttl_seconds,
        )
        path = CheckpointPath(model_id=self.model_id, name=intent.name)
        call = call._replace(
            on_its_way=(
                f"the request to save checkpoint {intent.name!r} was on its way: the server "
                f"may have made it (saving {intent.name!r} again then raises "
                f"CheckpointExistsError); look with trainer.get_checkpoint({str(path)!r}) or "
                "list_checkpoints()"
            ),
        )
        try:
            with self._steps.deleted.saving(path):
                operation: wire.Operation = yield call
        except ConflictError as exc:
            found = yield from _recover_save(intent, _name_taken(exc))
            self._steps.note_saved(found.id)
            watch = ResourceWatch(call.op_id, found, lambda c: lookup.find_by_path(c.path))
            return HandleParts(snapshot=watch.snapshot(found), parse=watch.result, look=watch.look)
        snap = started_snapshot(call.op_id, operation, self.model_id)
        parse = self._steps.noting_saves(_parse_save, lambda c: c.id)
        return HandleParts(snapshot=snap, parse=parse, settle=_SAVED)

    def _export(
        self, checkpoint: object, merge_adapter: object, ttl: object, force: object
    ) -> Plan[HandleParts[Artifact]]:
        merge = check_bool("merge_adapter", merge_adapter)
        replace = check_bool("force", force)
        # Sent even by default: the wire sheet does not say the real service accepts a
        # body without it.
        ttl_seconds = (
            _EXPORT_TTL if ttl is SERVER_DEFAULT else _check_ttl(ttl, _FOLLOW, _ARTIFACT_TTL)
        )
        model_id: str | None = self.model_id
        target = None
        if checkpoint is not None:
            target = in_model(coerce_checkpoint_ref, checkpoint, model_id)
            # The export is of the checkpoint's model, which a path (or a Checkpoint) names;
            # an id alone may be of any model's checkpoint.
            model_id = None if isinstance(target, uuid.UUID) else target.model_id
        if merge and model_id == self.model_id and self.model.training_mode == "full_ft":
            raise MergeNotSupportedError(
                f"merge_adapter=True: model {self.model_id} is trained in full (full_ft) and "
                "has no adapter to merge; export it without merge_adapter (hf_model)",
                code="merge_not_supported",
                details={"model_id": self.model_id, "training_mode": "full_ft"},
            )
        if target is None and replace:
            raise InvalidArgumentError(
                "force applies to exporting a saved checkpoint; exporting the current "
                "weights (checkpoint=None) always saves and exports them anew"
            )
        return self._export_plan(target, model_id, merge, ttl_seconds, replace)

    def _export_plan(
        self,
        target: Checkpoint | CheckpointPath | uuid.UUID | None,
        model_id: str | None,
        merge: bool,
        ttl_seconds: int | None,
        replace: bool,
    ) -> Plan[HandleParts[Artifact]]:
        """Start an export: a handle's parts, from the operation or, for a reply that is the
        artifact itself, from the artifact (``ResourceWatch``)."""
        reply: calls.ExportReply
        followed = None  # the checkpoint whose retention ttl_seconds=None asks to follow
        if target is None:
            kind = "export_model_weights"
            call = calls.export_model_weights(
                self.model_id, merge_adapter=merge, ttl_seconds=ttl_seconds
            )
            reply = yield call._replace(
                on_its_way=(
                    f"the request to save and export model {self.model_id}'s current "
                    "weights was on its way: the server may have saved them as a "
                    "checkpoint (of a name it chose) and started an export of it; "
                    "exporting again saves and exports them anew, so look first with "
                    "trainer.list_checkpoints(), then service.list_artifacts(checkpoint)"
                ),
            )
        else:
            kind = "export_checkpoint"
            if isinstance(target, CheckpointPath):
                # Looked up as find_checkpoint_id would: the checkpoint an export that
                # follows it is compared with.
                target = yield from find_checkpoint(target, self._steps.deleted)
            followed = target if isinstance(target, Checkpoint) else None  # by id: unknown
            checkpoint_id = yield from find_checkpoint_id(target)
            try:
                reply = yield calls.export_checkpoint(
                    checkpoint_id, merge_adapter=merge, ttl_seconds=ttl_seconds, force=replace
                )
            except ConflictError as exc:
                found = yield from _recover_export(checkpoint_id, merge, exc)
                watch = ResourceWatch(kind, found, artifact_again)
                parse = _kept_as_asked(watch.result, ttl_seconds, _SET, followed)
                return HandleParts(snapshot=watch.snapshot(found), parse=parse, look=watch.look)
        if reply.operation is not None:
            snap = started_snapshot(kind, reply.operation, model_id)
            why = _SET if target is None or replace else _SET_OR_UNDER_WAY

            def wrap(parse: ResultParser[Artifact]) -> ResultParser[Artifact]:
                parse = _kept_as_asked(parse, ttl_seconds, why, followed)
                if target is None:  # the current weights, saved as a checkpoint first
                    parse = self._steps.noting_saves(parse, lambda a: a.checkpoint_id)
                return parse

            parse = wrap(_parse_export(kind))
            return HandleParts(snapshot=snap, parse=parse, settle=_exporting(kind, wrap))
        assert reply.artifact is not None
        watch = ResourceWatch(kind, artifact_from_wire(kind, reply.artifact), artifact_again)
        why = _SET if target is None else _ALREADY_MADE
        parse = _kept_as_asked(watch.result, ttl_seconds, why, followed)
        return HandleParts(snapshot=watch.snapshot(watch.latest), parse=parse, look=watch.look)

    def _delete(self, ref: CheckpointRef) -> Plan[Checkpoint]:
        target = in_model(coerce_checkpoint_ref, ref, self.model_id)
        if not isinstance(target, Checkpoint):
            target = yield from lookup.by_ref(
                target, self.model_id, deleted_here=self._steps.deleted
            )
        record = self._steps.deleted.deleting(target.path)
        deleted = yield from lookup.delete(target)
        record(deleted)
        self._steps.forget_saves(frozenset({str(deleted.id)}))  # not looked for once gone
        return deleted

    def _set_ttl(self, ref: object, ttl_seconds: object) -> Plan[Checkpoint]:
        ttl = _check_ttl(ttl_seconds)
        target = in_model(coerce_checkpoint_ref, ref, self.model_id)
        if isinstance(target, uuid.UUID):
            gone = lookup.asked(self._steps.deleted, target)
            target = yield from lookup.by_id(target, self.model_id, deleted=gone)
        path = target.path if isinstance(target, Checkpoint) else target
        with self._noting_deleted(path):
            reply: calls.CheckpointReply = yield calls.set_checkpoint_ttl(path, ttl)
        done = reply.read(checkpoint_from_wire, "set_checkpoint_ttl")
        if done is not None:
            return done
        return (yield from lookup.find_by_path(path))


class TrainingClient(_TrainingBase[SyncIO]):
    """Trains one model: forward-backward passes, optimizer steps, checkpoints.

    Made by ``ServiceClient.create_training_client`` or ``.training_client``.
    Every method that starts an operation waits for it by default
    (``wait=True``) and returns its typed result; with ``wait=False`` it returns
    an ``OperationHandle`` at once.
    """

    # Named here, not only inherited, so that the API reference lists it.
    with_options = HasOptions.with_options

    def _run_operation(
        self, operation: str, plan: Plan[HandleParts[_R]], wait: bool, *, live: bool = True
    ) -> _R | OperationHandle[_R]:
        """Run ``plan``, which starts an operation (``_in_turn``), within the call's
        ``timeout`` (``with_options``), the wait for the turn included. The turn is held
        only to send: the handle, which tells ``on_progress``, is made after it, so that a
        callback may call the model. Returns the operation's result (``wait``), or its
        handle."""
        check_bool("wait", wait)
        handle = self._io.handle(self._io.run(self._in_turn(operation, plan, live)))
        return handle.result() if wait else handle

    @overload
    def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = ..., *, wait: Literal[True] = ...
    ) -> ForwardBackwardResult: ...
    @overload
    def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = ..., *, wait: Literal[False]
    ) -> OperationHandle[ForwardBackwardResult]: ...
    @overload
    def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = ..., *, wait: bool
    ) -> ForwardBackwardResult | OperationHandle[ForwardBackwardResult]: ...
    def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = "cross_entropy", *, wait: bool = True
    ) -> ForwardBackwardResult | OperationHandle[ForwardBackwardResult]:
        """Compute the loss on ``data`` and accumulate gradients until the next ``optim_step``.

        Args:
            data: At least 1 ``Datum`` (see ``datum_from_tokens``); the server decides
                the most, and refuses a larger batch or a longer sequence than it takes
                with ``BadRequestError``, and a request body larger than it takes with
                ``PayloadTooLargeError`` (never retried).
            loss_fn: The loss; only ``"cross_entropy"``.
            wait: Wait for the result (default), or return an ``OperationHandle``.
        """
        return self._run_operation("forward_backward", self._forward_backward(data, loss_fn), wait)

    @overload
    def optim_step(
        self, adam_params: AdamParams = ..., *, wait: Literal[True] = ...
    ) -> OptimStepResult: ...
    @overload
    def optim_step(
        self, adam_params: AdamParams = ..., *, wait: Literal[False]
    ) -> OperationHandle[OptimStepResult]: ...
    @overload
    def optim_step(
        self, adam_params: AdamParams = ..., *, wait: bool
    ) -> OptimStepResult | OperationHandle[OptimStepResult]: ...
    def optim_step(
        self, adam_params: AdamParams = DEFAULT_ADAM, *, wait: bool = True
    ) -> OptimStepResult | OperationHandle[OptimStepResult]:
        """Apply the accumulated gradients with AdamW (``AdamParams()``: the service defaults)."""
        return self._run_operation("optim_step", self._optim_step(adam_params), wait)

    @overload
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        wait: Literal[True] = ...,
    ) -> Checkpoint: ...
    @overload
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        wait: Literal[False],
    ) -> OperationHandle[Checkpoint]: ...
    @overload
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        wait: bool,
    ) -> Checkpoint | OperationHandle[Checkpoint]: ...
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = True,
        ttl_seconds: TtlSeconds = SERVER_DEFAULT,
        wait: bool = True,
    ) -> Checkpoint | OperationHandle[Checkpoint]:
        """Save the model's state as the checkpoint ``name``.

        Args:
            name: 1 to 128 ASCII letters, digits, '.', '_' or '-', not starting with '.'.
            include_optimizer: ``True`` (default) saves ``weight_and_optimizer``, which
                ``load_state_with_optimizer`` can resume; ``False`` saves ``weight`` only.
            ttl_seconds: Seconds to keep it, or ``None`` for permanent; by default the
                field is left out and the server's default applies.
            wait: Wait for the saved ``Checkpoint``, once ``completed`` (default), or
                return a handle.

        Raises:
            InvalidCheckpointName: Before any request, for a bad name.
            CheckpointExistsError: The model already has a checkpoint of that name. Not
                raised for the checkpoint a lost first attempt of this very call made on a
                server without ``Idempotency-Key``: that one is returned (see the README's
                "How a save tells its own checkpoint from a real conflict").
        """
        save = self._save(name, include_optimizer, ttl_seconds)
        return self._run_operation("save_state", save, wait)

    @overload
    def load_state(
        self, checkpoint: CheckpointLike, *, wait: Literal[True] = ...
    ) -> LoadResult: ...
    @overload
    def load_state(
        self, checkpoint: CheckpointLike, *, wait: Literal[False]
    ) -> OperationHandle[LoadResult]: ...
    @overload
    def load_state(
        self, checkpoint: CheckpointLike, *, wait: bool
    ) -> LoadResult | OperationHandle[LoadResult]: ...
    def load_state(
        self, checkpoint: CheckpointLike, *, wait: bool = True
    ) -> LoadResult | OperationHandle[LoadResult]:
        """Load a checkpoint's weights into this model; the optimizer state is reset.

        ``checkpoint`` is a ``Checkpoint``, a ``CheckpointPath`` or a ``weaver://`` path.
        """
        return self._run_operation("load_state", self._load(checkpoint, False), wait)

    @overload
    def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: Literal[True] = ...
    ) -> LoadResult: ...
    @overload
    def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: Literal[False]
    ) -> OperationHandle[LoadResult]: ...
    @overload
    def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: bool
    ) -> LoadResult | OperationHandle[LoadResult]: ...
    def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: bool = True
    ) -> LoadResult | OperationHandle[LoadResult]:
        """Load weights and optimizer state (Adam moments and step) to resume training exactly.

        Raises:
            OptimizerStateUnavailableError: Before any request for a ``Checkpoint`` that is
                not ``weight_and_optimizer``; for the server's 422 when a path was given.
        """
        return self._run_operation("load_state_with_optimizer", self._load(checkpoint, True), wait)

    @overload
    def export_weights(
        self,
        checkpoint: CheckpointRef | None = ...,
        *,
        merge_adapter: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        force: bool = ...,
        wait: Literal[True] = ...,
    ) -> Artifact: ...
    @overload
    def export_weights(
        self,
        checkpoint: CheckpointRef | None = ...,
        *,
        merge_adapter: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        force: bool = ...,
        wait: Literal[False],
    ) -> OperationHandle[Artifact]: ...
    @overload
    def export_weights(
        self,
        checkpoint: CheckpointRef | None = ...,
        *,
        merge_adapter: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        force: bool = ...,
        wait: bool,
    ) -> Artifact | OperationHandle[Artifact]: ...
    def export_weights(
        self,
        checkpoint: CheckpointRef | None = None,
        *,
        merge_adapter: bool = False,
        ttl_seconds: TtlSeconds = SERVER_DEFAULT,
        force: bool = False,
        wait: bool = True,
    ) -> Artifact | OperationHandle[Artifact]:
        """Export weights in Hugging Face layout as an ``Artifact`` to download.

        Args:
            checkpoint: A ``Checkpoint``, its path or id; ``None`` saves the current
                weights and exports them in one step.
            merge_adapter: For LoRA, merge the adapter into the base weights
                (``hf_model``) instead of exporting the adapter (``hf_adapter``).
            ttl_seconds: Seconds to keep the artifact; ``None`` follows the checkpoint;
                by default the service's default (7 days), sent in the request.
            force: Replace an existing artifact of the same kind (not with ``None``).
            wait: Wait until the artifact is ``completed`` (default; the export's
                ``conversion_progress`` goes to the client's ``on_progress``), or return
                an ``OperationHandle``. An identical export that already exists comes
                back at once (with ``wait=False``, as an already-done handle); one that
                the server answers with its artifact still pending is waited for
                through its checkpoint's artifact list (its handle's ``id`` is the
                artifact's ``uri``: there is no operation to re-attach to).

        Raises:
            MergeNotSupportedError: ``merge_adapter`` for a ``full_ft`` model; before any
                request when that is this client's model, whose mode it knows.
            OperationFailedError: The export failed.
        """
        start = self._export(checkpoint, merge_adapter, ttl_seconds, force)
        return self._run_operation("export_weights", start, wait, live=checkpoint is None)

    def iter_checkpoints(self, *, page_size: int = CHECKPOINT_PAGE_SIZE) -> Iterator[Checkpoint]:
        """Yield this model's pending and completed checkpoints page by page, in the server's
        order (oldest first, by the spec; the wire sheet gives none)."""
        yield from self._io.pages(lookup.CheckpointPager(self.model_id, page_size))

    def list_checkpoints(self, *, page_size: int = CHECKPOINT_PAGE_SIZE) -> list[Checkpoint]:
        """All of this model's pending and completed checkpoints, following every page."""
        return list(self._io.whole().pages(lookup.CheckpointPager(self.model_id, page_size)))

    def latest_checkpoint(self) -> Checkpoint | None:
        """This model's newest completed checkpoint, or ``None`` if it has none.

        Newest by ``created_at``; of two made within one tick of the server's clock (whole
        seconds, say), the later in the listing's order, which the times of its other
        checkpoints show (pending ones too). A listing whose times are all one shows no
        order and is taken in the spec's, oldest first.

        A listing that lacks a checkpoint this client has saved since its last call may lag
        behind the save: it is read again, up to 3 times more within the call's
        ``timeout``, each after a pause of the poll backoff, as for a path.
        """
        return self._io.run(self._steps.latest(self.model_id))

    def get_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """The current state of a checkpoint.

        ``ref`` is a ``Checkpoint`` (fetched again by id), a checkpoint id (UUID or its
        string), or a path (``CheckpointPath`` or ``weaver://`` string), which is looked
        up by name among its model's checkpoints.
        """
        return self._io.run(lookup.by_ref(ref, self.model_id, deleted_here=self._steps.deleted))

    def delete_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """Delete a checkpoint and its files; returns it in status ``deleted``.

        ``ref`` as for ``get_checkpoint``. Its exports are not deleted: each stays
        downloadable by its artifact id until its own TTL ends.

        Raises:
            UnsupportedByServerError: The server lacks the ``checkpoint-by-id``
                extension, without which the wire has no way to delete a checkpoint.
        """
        return self._io.run(self._delete(ref))

    def set_checkpoint_ttl(self, ref: CheckpointRef, ttl_seconds: int | None) -> Checkpoint:
        """Keep a checkpoint ``ttl_seconds`` from now, or for ever with ``None``.

        ``ref`` as for ``get_checkpoint``. Returns the changed checkpoint: the reply's,
        or, when the reply carries none (the wire promises no body), the one read back
        from the model's list.
        """
        return self._io.run(self._set_ttl(ref, ttl_seconds))


class AsyncTrainingClient(_TrainingBase[AsyncIO]):
    """The async twin of ``TrainingClient``: the same methods, awaited.

    With ``wait=False`` the methods return an ``AsyncOperationHandle``, which
    can itself be awaited.
    """

    with_options = HasOptions.with_options

    async def _run_operation(
        self, operation: str, plan: Plan[HandleParts[_R]], wait: bool, *, live: bool = True
    ) -> _R | AsyncOperationHandle[_R]:
        """See ``TrainingClient._run_operation``."""
        check_bool("wait", wait)
        handle = self._io.handle(await self._io.run(self._in_turn(operation, plan, live)))
        return await handle.result() if wait else handle

    @overload
    async def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = ..., *, wait: Literal[True] = ...
    ) -> ForwardBackwardResult: ...
    @overload
    async def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = ..., *, wait: Literal[False]
    ) -> AsyncOperationHandle[ForwardBackwardResult]: ...
    @overload
    async def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = ..., *, wait: bool
    ) -> ForwardBackwardResult | AsyncOperationHandle[ForwardBackwardResult]: ...
    async def forward_backward(
        self, data: Sequence[Datum], loss_fn: LossFnName = "cross_entropy", *, wait: bool = True
    ) -> ForwardBackwardResult | AsyncOperationHandle[ForwardBackwardResult]:
        """See ``TrainingClient.forward_backward``."""
        return await self._run_operation(
            "forward_backward", self._forward_backward(data, loss_fn), wait
        )

    @overload
    async def optim_step(
        self, adam_params: AdamParams = ..., *, wait: Literal[True] = ...
    ) -> OptimStepResult: ...
    @overload
    async def optim_step(
        self, adam_params: AdamParams = ..., *, wait: Literal[False]
    ) -> AsyncOperationHandle[OptimStepResult]: ...
    @overload
    async def optim_step(
        self, adam_params: AdamParams = ..., *, wait: bool
    ) -> OptimStepResult | AsyncOperationHandle[OptimStepResult]: ...
    async def optim_step(
        self, adam_params: AdamParams = DEFAULT_ADAM, *, wait: bool = True
    ) -> OptimStepResult | AsyncOperationHandle[OptimStepResult]:
        """See ``TrainingClient.optim_step``."""
        return await self._run_operation("optim_step", self._optim_step(adam_params), wait)

    @overload
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        wait: Literal[True] = ...,
    ) -> Checkpoint: ...
    @overload
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        wait: Literal[False],
    ) -> AsyncOperationHandle[Checkpoint]: ...
    @overload
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        wait: bool,
    ) -> Checkpoint | AsyncOperationHandle[Checkpoint]: ...
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = True,
        ttl_seconds: TtlSeconds = SERVER_DEFAULT,
        wait: bool = True,
    ) -> Checkpoint | AsyncOperationHandle[Checkpoint]:
        """See ``TrainingClient.save_state`` (``weight_and_optimizer`` by default)."""
        save = self._save(name, include_optimizer, ttl_seconds)
        return await self._run_operation("save_state", save, wait)

    @overload
    async def load_state(
        self, checkpoint: CheckpointLike, *, wait: Literal[True] = ...
    ) -> LoadResult: ...
    @overload
    async def load_state(
        self, checkpoint: CheckpointLike, *, wait: Literal[False]
    ) -> AsyncOperationHandle[LoadResult]: ...
    @overload
    async def load_state(
        self, checkpoint: CheckpointLike, *, wait: bool
    ) -> LoadResult | AsyncOperationHandle[LoadResult]: ...
    async def load_state(
        self, checkpoint: CheckpointLike, *, wait: bool = True
    ) -> LoadResult | AsyncOperationHandle[LoadResult]:
        """See ``TrainingClient.load_state``."""
        return await self._run_operation("load_state", self._load(checkpoint, False), wait)

    @overload
    async def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: Literal[True] = ...
    ) -> LoadResult: ...
    @overload
    async def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: Literal[False]
    ) -> AsyncOperationHandle[LoadResult]: ...
    @overload
    async def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: bool
    ) -> LoadResult | AsyncOperationHandle[LoadResult]: ...
    async def load_state_with_optimizer(
        self, checkpoint: CheckpointLike, *, wait: bool = True
    ) -> LoadResult | AsyncOperationHandle[LoadResult]:
        """See ``TrainingClient.load_state_with_optimizer``."""
        return await self._run_operation(
            "load_state_with_optimizer", self._load(checkpoint, True), wait
        )

    @overload
    async def export_weights(
        self,
        checkpoint: CheckpointRef | None = ...,
        *,
        merge_adapter: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        force: bool = ...,
        wait: Literal[True] = ...,
    ) -> Artifact: ...
    @overload
    async def export_weights(
        self,
        checkpoint: CheckpointRef | None = ...,
        *,
        merge_adapter: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        force: bool = ...,
        wait: Literal[False],
    ) -> AsyncOperationHandle[Artifact]: ...
    @overload
    async def export_weights(
        self,
        checkpoint: CheckpointRef | None = ...,
        *,
        merge_adapter: bool = ...,
        ttl_seconds: TtlSeconds = ...,
        force: bool = ...,
        wait: bool,
    ) -> Artifact | AsyncOperationHandle[Artifact]: ...
    async def export_weights(
        self,
        checkpoint: CheckpointRef | None = None,
        *,
        merge_adapter: bool = False,
        ttl_seconds: TtlSeconds = SERVER_DEFAULT,
        force: bool = False,
        wait: bool = True,
    ) -> Artifact | AsyncOperationHandle[Artifact]:
        """See ``TrainingClient.export_weights``."""
        start = self._export(checkpoint, merge_adapter, ttl_seconds, force)
        return await self._run_operation("export_weights", start, wait, live=checkpoint is None)

    async def iter_checkpoints(
        self, *, page_size: int = CHECKPOINT_PAGE_SIZE
    ) -> AsyncIterator[Checkpoint]:
        """See ``TrainingClient.iter_checkpoints``."""
        async for checkpoint in self._io.pages(lookup.CheckpointPager(self.model_id, page_size)):
            yield checkpoint

    async def list_checkpoints(self, *, page_size: int = CHECKPOINT_PAGE_SIZE) -> list[Checkpoint]:
        """See ``TrainingClient.list_checkpoints``."""
        pager = lookup.CheckpointPager(self.model_id, page_size)
        return [c async for c in self._io.whole().pages(pager)]

    async def latest_checkpoint(self) -> Checkpoint | None:
        """See ``TrainingClient.latest_checkpoint``."""
        return await self._io.run(self._steps.latest(self.model_id))

    async def get_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """See ``TrainingClient.get_checkpoint``."""
        return await self._io.run(
            lookup.by_ref(ref, self.model_id, deleted_here=self._steps.deleted)
        )

    async def delete_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """See ``TrainingClient.delete_checkpoint``."""
        return await self._io.run(self._delete(ref))

    async def set_checkpoint_ttl(self, ref: CheckpointRef, ttl_seconds: int | None) -> Checkpoint:
        """See ``TrainingClient.set_checkpoint_ttl``."""
        return await self._io.run(self._set_ttl(ref, ttl_seconds))

"""``TrainingClient`` and ``AsyncTrainingClient``: train one model, save and resume it.

Both are thin shells over ``_TrainingBase``, which validates arguments and
builds every request and result parser without I/O.

Differences from the official Weaver SDK, on purpose:

* ``save_state`` saves ``weight_and_optimizer`` by default
  (``include_optimizer=True``), so that every saved state can be resumed
  with ``load_state_with_optimizer``. The official SDK saves ``weight`` by
  default, which cannot restore the optimizer.
* ``save_state`` does not list the model's checkpoints first: a duplicate
  name is the server's 409, raised as ``CheckpointExistsError``.
* Results are typed (``LoadResult``, ``ForwardBackwardResult``), paths are
  validated before any request, and ``wait=False`` returns an operation
  handle whose ``result(timeout=...)`` cannot hang.
"""

from __future__ import annotations

import enum
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import attrs
from weaver_client.types import UNSET, Unset

from . import _calls as calls
from ._checkpoints import (
    Checkpoint,
    CheckpointLike,
    CheckpointPath,
    CheckpointRef,
    CheckpointType,
    checkpoint_from_wire,
    checkpoint_result,
    coerce_checkpoint_path,
    coerce_checkpoint_ref,
    validate_checkpoint_name,
)
from ._errors import (
    InvalidArgumentError,
    InvalidDatumError,
    NotFoundError,
    OptimizerStateUnavailableError,
    ResponseValidationError,
)
from ._io import AsyncIO, HasOptions, Submission, SyncIO
from ._lazy import LazyModule
from ._operations import AsyncOperationHandle, OperationHandle, OperationSnapshot, ResultParser
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
from ._wire import Call, expect

if TYPE_CHECKING:
    from weaver_client import models as wire
else:
    wire = LazyModule("weaver_client.models")

__all__ = [
    "SERVER_DEFAULT",
    "AsyncTrainingClient",
    "ModelInfo",
    "OperationResult",
    "TrainingClient",
    "check_next_seq_id",
    "model_info_from_wire",
    "reattach_parser",
]

MAX_DATA = 256
MAX_TTL_SECONDS = 315_360_000
DEFAULT_PAGE_SIZE = 100
LossFnName: TypeAlias = Literal["cross_entropy"]


class _ServerDefault(enum.Enum):
    SERVER_DEFAULT = "server-default"

    def __repr__(self) -> str:
        return "SERVER_DEFAULT"


SERVER_DEFAULT: Literal[_ServerDefault.SERVER_DEFAULT] = _ServerDefault.SERVER_DEFAULT
"""Leave ``ttl_seconds`` out of a save: the server's default applies (permanent for weights)."""

DEFAULT_ADAM = AdamParams()

OperationResult: TypeAlias = (
    ForwardBackwardResult | OptimStepResult | Checkpoint | LoadResult | dict[str, Any]
)
"""What a re-attached operation yields; a raw ``dict`` only when its kind is unknown."""


@attrs.frozen(kw_only=True)
class ModelInfo:
    """The training model a client drives, as the server described it."""

    id: str
    base_model: str
    training_mode: str
    tokenizer_path: str | None = None
    lora_rank: int | None = None
    #: The seq_id the server expects next, when it says so (an extension field).
    next_seq_id: int | None = None


def model_info_from_wire(operation: str, gen: wire.Model) -> ModelInfo:
    """Check a generated Model and keep what the facade uses."""
    tokenizer = gen.tokenizer_path
    next_seq = None
    if not isinstance(gen.next_seq_id, Unset):
        next_seq = expect(operation, "Model", "next_seq_id", gen.next_seq_id, int)
    rank = None
    if isinstance(gen.lora_config, wire.LoraConfig):
        rank = expect(operation, "Model", "lora_config.rank", gen.lora_config.rank, int)
    return ModelInfo(
        id=expect(operation, "Model", "id", gen.id, str),
        base_model=expect(operation, "Model", "base_model", gen.base_model, str),
        training_mode=gen.training_mode.value,
        tokenizer_path=None
        if tokenizer is None or isinstance(tokenizer, Unset)
        else expect(operation, "Model", "tokenizer_path", tokenizer, str),
        lora_rank=rank,
        next_seq_id=next_seq,
    )


# -- argument checks ------------------------------------------------------------------------


def _check_data(data: object) -> list[Datum]:
    if isinstance(data, Datum):
        raise InvalidDatumError("forward_backward takes a sequence of Datum, got a single Datum")
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InvalidDatumError(f"forward_backward takes a sequence of Datum, got {data!r:.80}")
    items = list(data)
    if not 1 <= len(items) <= MAX_DATA:
        raise InvalidDatumError(f"forward_backward takes 1 to {MAX_DATA} data, got {len(items)}")
    for i, datum in enumerate(items):
        if not isinstance(datum, Datum):
            raise InvalidDatumError(
                f"data[{i}] is a {type(datum).__name__}, not a Datum; "
                "build one with Datum(...) or datum_from_tokens(...)"
            )
    return items


def _check_loss_fn(loss_fn: object) -> str:
    allowed = [v.value for v in wire.LossFn]
    if loss_fn not in allowed:
        raise InvalidArgumentError(f"loss_fn must be one of {allowed}, got {loss_fn!r}")
    return str(loss_fn)


def _check_ttl(ttl_seconds: object) -> int | None:
    if ttl_seconds is None:
        return None
    if (
        isinstance(ttl_seconds, bool)
        or not isinstance(ttl_seconds, int)
        or not 1 <= ttl_seconds <= MAX_TTL_SECONDS
    ):
        raise InvalidArgumentError(
            f"ttl_seconds must be an int from 1 to {MAX_TTL_SECONDS}, or None for a "
            f"permanent checkpoint; got {ttl_seconds!r}"
        )
    return ttl_seconds


def _check_page_size(page_size: object) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        raise InvalidArgumentError(f"page_size must be an int from 1 to 1000, got {page_size!r}")
    return page_size


# -- results of re-attached operations ---------------------------------------------------------


def _parse_fb(n_data: int | None) -> ResultParser[ForwardBackwardResult]:
    return lambda snap: forward_backward_result("forward_backward", snap.response, n_data)


def _parse_optim(snap: OperationSnapshot) -> OptimStepResult:
    return optim_step_result("optim_step", snap.response)


def _parse_save(snap: OperationSnapshot) -> Checkpoint:
    return checkpoint_result("save_checkpoint", snap.response)


def _parse_load(path: CheckpointPath | None, include: bool | None) -> ResultParser[LoadResult]:
    return lambda snap: load_result(
        "load_checkpoint", snap.response, path=path, include_optimizer=include
    )


def _parse_raw(snap: OperationSnapshot) -> dict[str, Any]:
    return dict(snap.response or {})


_KIND_OF_RESULT: dict[type[Any], str] = {
    ForwardBackwardResult: "forward_backward",
    OptimStepResult: "optim_step",
    Checkpoint: "save_checkpoint",
    LoadResult: "load_checkpoint",
}
_PARSER_OF_KIND: dict[str, ResultParser[Any]] = {
    "forward_backward": _parse_fb(None),
    "optim_step": _parse_optim,
    "save_checkpoint": _parse_save,
    "load_checkpoint": _parse_load(None, None),
}


def reattach_parser(
    snapshot: OperationSnapshot, result_type: type[Any] | None
) -> ResultParser[Any]:
    """Pick the result parser of a re-attached operation from ``result_type`` and its ``kind``."""
    kind = snapshot.kind
    if result_type is not None:
        expected = _KIND_OF_RESULT.get(result_type)
        if expected is None:
            names = ", ".join(t.__name__ for t in _KIND_OF_RESULT)
            raise InvalidArgumentError(f"result_type must be one of {names}, got {result_type!r}")
        if kind is not None and kind != expected:
            raise InvalidArgumentError(
                f"operation {snapshot.id} is a {kind} operation; its result is not a "
                f"{result_type.__name__}"
            )
        kind = expected
    return _parse_raw if kind is None else _PARSER_OF_KIND[kind]


# -- the shared, I/O-free half of both clients ----------------------------------------------------


class _Pager:
    """Pages of ``list_checkpoints``: which call next, and the checkpoints of each reply."""

    def __init__(self, model_id: str, page_size: int) -> None:
        self.model_id = model_id
        self.page_size = _check_page_size(page_size)
        self.cursor: str | None = None
        self.done = False

    def call(self) -> Call[wire.CheckpointList]:
        return calls.list_checkpoints(self.model_id, limit=self.page_size, cursor=self.cursor)

    def read(self, page: wire.CheckpointList) -> list[Checkpoint]:
        op = "list_checkpoints"
        items = expect(op, "CheckpointList", "items", page.items, list)
        found = [
            checkpoint_from_wire(op, item, where=f"items[{i}]") for i, item in enumerate(items)
        ]
        cursor = page.next_cursor
        if cursor is None or isinstance(cursor, Unset):
            self.done = True
        elif cursor == self.cursor:
            # A server that repeats a cursor would make us list for ever.
            raise ResponseValidationError(
                f"{op}: CheckpointList: field `next_cursor` repeats the cursor just sent",
                operation=op,
                field="next_cursor",
            )
        else:
            self.cursor = expect(op, "CheckpointList", "next_cursor", cursor, str)
        return found


def _not_found(path: CheckpointPath) -> NotFoundError:
    return NotFoundError(
        f"no checkpoint named {path.name!r} among the checkpoints of model {path.model_id} "
        f"({path})",
        code="not_found",
    )


def _no_optimizer_state(checkpoint: Checkpoint) -> OptimizerStateUnavailableError:
    return OptimizerStateUnavailableError(
        f"checkpoint {checkpoint.path} is of type {checkpoint.type.value!r} and holds no "
        "optimizer state; load_state_with_optimizer needs a 'weight_and_optimizer' checkpoint "
        "(save_state(..., include_optimizer=True)); use load_state to restore the weights only",
        code="optimizer_state_unavailable",
        details={"path": str(checkpoint.path), "type": checkpoint.type.value},
    )


def check_next_seq_id(next_seq_id: object) -> int | None:
    """``None`` or an int >= 1."""
    if next_seq_id is not None and (
        isinstance(next_seq_id, bool) or not isinstance(next_seq_id, int) or next_seq_id < 1
    ):
        raise InvalidArgumentError(f"next_seq_id must be an int >= 1, got {next_seq_id!r}")
    return next_seq_id


class _TrainingBase:
    def __init__(self, model: ModelInfo, *, next_seq_id: int | None = 1) -> None:
        self._model = model
        # One seq_id counter per model client, shared by every training call.
        # None: attached to a model whose last seq_id we do not know.
        start = check_next_seq_id(next_seq_id)
        self._seq = None if start is None else itertools.count(start)

    def _next_seq_id(self) -> int:
        if self._seq is None:
            # The server answers a repeated seq_id with the old operation, so
            # counting from 1 again would silently skip training steps.
            raise InvalidArgumentError(
                f"this client was attached to model {self.model_id} without next_seq_id, so "
                "it cannot number training steps: pass training_client(model_id, "
                "next_seq_id=<last seq_id + 1>), or create a new model and resume it with "
                "load_state_with_optimizer. Checkpoint methods work without it."
            )
        return next(self._seq)

    @property
    def model_id(self) -> str:
        """The server's id of the training model."""
        return self._model.id

    @property
    def model(self) -> ModelInfo:
        """The model as the server described it (base model, mode, tokenizer path)."""
        return self._model

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_id={self._model.id!r}, "
            f"base_model={self._model.base_model!r})"
        )

    def _forward_backward(self, data: object, loss_fn: object) -> Submission[ForwardBackwardResult]:
        items = _check_data(data)
        fn = _check_loss_fn(loss_fn)
        call = calls.forward_backward(
            self.model_id, seq_id=self._next_seq_id(), data=items, loss_fn=fn
        )
        return Submission(call, _parse_fb(len(items)))

    def _optim_step(self, adam_params: object) -> Submission[OptimStepResult]:
        if not isinstance(adam_params, AdamParams):
            raise InvalidArgumentError(
                f"adam_params must be an AdamParams, got {type(adam_params).__name__}"
            )
        call = calls.optim_step(self.model_id, seq_id=self._next_seq_id(), adam_params=adam_params)
        return Submission(call, _parse_optim)

    def _save(self, name: object, include_optimizer: bool, ttl: object) -> Submission[Checkpoint]:
        checked = validate_checkpoint_name(name)
        ttl_seconds: int | Unset | None = UNSET if ttl is SERVER_DEFAULT else _check_ttl(ttl)
        kind = CheckpointType.WEIGHT_AND_OPTIMIZER if include_optimizer else CheckpointType.WEIGHT
        call = calls.save_checkpoint(
            self.model_id, checkpoint_type=kind, name=checked, ttl_seconds=ttl_seconds
        )
        return Submission(call, _parse_save)

    def _load(self, checkpoint: object, include_optimizer: bool) -> Submission[LoadResult]:
        path = coerce_checkpoint_path(checkpoint)
        if (
            include_optimizer
            and isinstance(checkpoint, Checkpoint)
            and not checkpoint.has_optimizer_state
        ):
            raise _no_optimizer_state(checkpoint)
        call = calls.load_checkpoint(self.model_id, path=path, include_optimizer=include_optimizer)
        return Submission(call, _parse_load(path, include_optimizer))


class TrainingClient(_TrainingBase, HasOptions):
    """Trains one model: forward-backward passes, optimizer steps, checkpoints.

    Made by ``ServiceClient.create_training_client`` or ``.training_client``.
    Every method that starts an operation waits for it by default
    (``wait=True``) and returns its typed result; with ``wait=False`` it returns
    an ``OperationHandle`` at once.
    """

    _io: SyncIO

    def __init__(self, io: SyncIO, model: ModelInfo, *, next_seq_id: int | None = 1) -> None:
        super().__init__(model, next_seq_id=next_seq_id)
        self._io = io

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
            data: 1 to 256 ``Datum`` (see ``datum_from_tokens``).
            loss_fn: The loss; only ``"cross_entropy"``.
            wait: Wait for the result (default), or return an ``OperationHandle``.
        """
        handle = self._io.submit(self._forward_backward(data, loss_fn))
        return handle.result() if wait else handle

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
        handle = self._io.submit(self._optim_step(adam_params))
        return handle.result() if wait else handle

    @overload
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = ...,
        wait: Literal[True] = ...,
    ) -> Checkpoint: ...
    @overload
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = ...,
        wait: Literal[False],
    ) -> OperationHandle[Checkpoint]: ...
    @overload
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = ...,
        wait: bool,
    ) -> Checkpoint | OperationHandle[Checkpoint]: ...
    def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = True,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = SERVER_DEFAULT,
        wait: bool = True,
    ) -> Checkpoint | OperationHandle[Checkpoint]:
        """Save the model's state as the checkpoint ``name``.

        Args:
            name: 1 to 128 letters, digits, ``.``, ``_`` or ``-``, not starting with ``.``.
            include_optimizer: ``True`` (default) saves ``weight_and_optimizer``, which
                ``load_state_with_optimizer`` can resume; ``False`` saves ``weight`` only.
                The official Weaver SDK defaults to ``weight``, which cannot be resumed
                with the optimizer.
            ttl_seconds: Seconds to keep it, or ``None`` for permanent; by default the
                field is left out and the server's default applies.
            wait: Wait for the saved ``Checkpoint`` (default), or return a handle.

        Raises:
            InvalidCheckpointName: Before any request, for a bad name.
            CheckpointExistsError: The model already has a checkpoint of that name.
        """
        handle = self._io.submit(self._save(name, include_optimizer, ttl_seconds))
        return handle.result() if wait else handle

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
        handle = self._io.submit(self._load(checkpoint, include_optimizer=False))
        return handle.result() if wait else handle

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
        handle = self._io.submit(self._load(checkpoint, include_optimizer=True))
        return handle.result() if wait else handle

    def iter_checkpoints(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Checkpoint]:
        """Yield this model's pending and completed checkpoints, oldest first, page by page."""
        return self._iter(self.model_id, page_size)

    def list_checkpoints(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[Checkpoint]:
        """All of this model's pending and completed checkpoints, following every page."""
        return list(self._iter(self.model_id, page_size))

    def _iter(self, model_id: str, page_size: int) -> Iterator[Checkpoint]:
        pager = _Pager(model_id, page_size)
        while not pager.done:
            yield from pager.read(self._io.send(pager.call()))

    def _by_path(self, path: CheckpointPath) -> Checkpoint:
        for checkpoint in self._iter(path.model_id, DEFAULT_PAGE_SIZE):
            if checkpoint.name == path.name:
                return checkpoint
        raise _not_found(path)

    def _by_id(self, checkpoint_id: uuid.UUID) -> Checkpoint:
        gen = self._io.send(calls.get_checkpoint(checkpoint_id))
        return checkpoint_from_wire("get_checkpoint", gen)

    def get_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """The current state of a checkpoint.

        ``ref`` is a ``Checkpoint`` (fetched again by id), a checkpoint id (UUID or its
        string), or a path (``CheckpointPath`` or ``weaver://`` string), which is looked
        up by name among its model's checkpoints.
        """
        target = coerce_checkpoint_ref(ref)
        if isinstance(target, CheckpointPath):
            return self._by_path(target)
        return self._by_id(target.id if isinstance(target, Checkpoint) else target)

    def delete_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """Delete a checkpoint and its files; returns it in status ``deleted``.

        ``ref`` as for ``get_checkpoint``.
        """
        target = coerce_checkpoint_ref(ref)
        if isinstance(target, CheckpointPath):
            target = self._by_path(target)
        checkpoint_id = target.id if isinstance(target, Checkpoint) else target
        gen = self._io.send(calls.delete_checkpoint(checkpoint_id))
        return checkpoint_from_wire("delete_checkpoint", gen)

    def set_checkpoint_ttl(self, ref: CheckpointRef, ttl_seconds: int | None) -> Checkpoint:
        """Keep a checkpoint ``ttl_seconds`` from now, or for ever with ``None``.

        ``ref`` as for ``get_checkpoint``.
        """
        ttl = _check_ttl(ttl_seconds)
        target = coerce_checkpoint_ref(ref)
        if isinstance(target, uuid.UUID):
            target = self._by_id(target)
        path = target.path if isinstance(target, Checkpoint) else target
        gen = self._io.send(calls.set_checkpoint_ttl(path, ttl))
        return checkpoint_from_wire("set_checkpoint_ttl", gen)


class AsyncTrainingClient(_TrainingBase, HasOptions):
    """The async twin of ``TrainingClient``: the same methods, awaited.

    With ``wait=False`` the methods return an ``AsyncOperationHandle``, which
    can itself be awaited.
    """

    _io: AsyncIO

    def __init__(self, io: AsyncIO, model: ModelInfo, *, next_seq_id: int | None = 1) -> None:
        super().__init__(model, next_seq_id=next_seq_id)
        self._io = io

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
        handle = await self._io.submit(self._forward_backward(data, loss_fn))
        return await handle.result() if wait else handle

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
        handle = await self._io.submit(self._optim_step(adam_params))
        return await handle.result() if wait else handle

    @overload
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = ...,
        wait: Literal[True] = ...,
    ) -> Checkpoint: ...
    @overload
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = ...,
        wait: Literal[False],
    ) -> AsyncOperationHandle[Checkpoint]: ...
    @overload
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = ...,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = ...,
        wait: bool,
    ) -> Checkpoint | AsyncOperationHandle[Checkpoint]: ...
    async def save_state(
        self,
        name: str,
        *,
        include_optimizer: bool = True,
        ttl_seconds: int | Literal[_ServerDefault.SERVER_DEFAULT] | None = SERVER_DEFAULT,
        wait: bool = True,
    ) -> Checkpoint | AsyncOperationHandle[Checkpoint]:
        """See ``TrainingClient.save_state`` (``weight_and_optimizer`` by default)."""
        handle = await self._io.submit(self._save(name, include_optimizer, ttl_seconds))
        return await handle.result() if wait else handle

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
        handle = await self._io.submit(self._load(checkpoint, include_optimizer=False))
        return await handle.result() if wait else handle

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
        handle = await self._io.submit(self._load(checkpoint, include_optimizer=True))
        return await handle.result() if wait else handle

    async def iter_checkpoints(
        self, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Checkpoint]:
        """Yield this model's pending and completed checkpoints, oldest first, page by page."""
        async for checkpoint in self._iter(self.model_id, page_size):
            yield checkpoint

    async def list_checkpoints(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[Checkpoint]:
        """All of this model's pending and completed checkpoints, following every page."""
        return [c async for c in self._iter(self.model_id, page_size)]

    async def _iter(self, model_id: str, page_size: int) -> AsyncIterator[Checkpoint]:
        pager = _Pager(model_id, page_size)
        while not pager.done:
            for checkpoint in pager.read(await self._io.send(pager.call())):
                yield checkpoint

    async def _by_path(self, path: CheckpointPath) -> Checkpoint:
        async for checkpoint in self._iter(path.model_id, DEFAULT_PAGE_SIZE):
            if checkpoint.name == path.name:
                return checkpoint
        raise _not_found(path)

    async def _by_id(self, checkpoint_id: uuid.UUID) -> Checkpoint:
        gen = await self._io.send(calls.get_checkpoint(checkpoint_id))
        return checkpoint_from_wire("get_checkpoint", gen)

    async def get_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """See ``TrainingClient.get_checkpoint``."""
        target = coerce_checkpoint_ref(ref)
        if isinstance(target, CheckpointPath):
            return await self._by_path(target)
        return await self._by_id(target.id if isinstance(target, Checkpoint) else target)

    async def delete_checkpoint(self, ref: CheckpointRef) -> Checkpoint:
        """See ``TrainingClient.delete_checkpoint``."""
        target = coerce_checkpoint_ref(ref)
        if isinstance(target, CheckpointPath):
            target = await self._by_path(target)
        checkpoint_id = target.id if isinstance(target, Checkpoint) else target
        gen = await self._io.send(calls.delete_checkpoint(checkpoint_id))
        return checkpoint_from_wire("delete_checkpoint", gen)

    async def set_checkpoint_ttl(self, ref: CheckpointRef, ttl_seconds: int | None) -> Checkpoint:
        """See ``TrainingClient.set_checkpoint_ttl``."""
        ttl = _check_ttl(ttl_seconds)
        target = coerce_checkpoint_ref(ref)
        if isinstance(target, uuid.UUID):
            target = await self._by_id(target)
        path = target.path if isinstance(target, Checkpoint) else target
        gen = await self._io.send(calls.set_checkpoint_ttl(path, ttl))
        return checkpoint_from_wire("set_checkpoint_ttl", gen)

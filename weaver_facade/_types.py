"""Training inputs and results: ``AdamParams``, ``Datum`` and the typed results.

Inputs validate themselves on construction (``InvalidArgumentError`` /
``InvalidDatumError``, both ``ValueError``s), so a bad value fails in the
caller's line, before any request. Results are built from the generated
models of the reply, never from raw dicts.
"""

from __future__ import annotations

import functools
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeGuard

import attrs
from weaver_client import limits
from weaver_client.types import UNSET, Unset

from ._args import plain_number
from ._checkpoints import CheckpointPath, path_from_wire
from ._errors import InvalidArgumentError, InvalidDatumError, ResponseValidationError
from ._lazy import wire
from ._schema import BOUNDS, field_at
from ._wire import (
    WireFields,
    as_float,
    expect,
    field_error,
    optional,
    parse_model,
    result_of,
)

IGNORE_INDEX = -100
# The wire bounds only the least; the most tokens per sequence is the server's to decide
# (its base model's context), so a longer one is sent and refused there with a 400.
MIN_TOKENS = limits.ENCODED_TEXT_CHUNK_TOKENS_MIN_ITEMS
MIN_TOKEN_ID = limits.ENCODED_TEXT_CHUNK_TOKENS_ITEMS_MINIMUM
MAX_TOKEN_ID = limits.ENCODED_TEXT_CHUNK_TOKENS_ITEMS_MAXIMUM  # targets travel as int64
_IDS = f"ids are ints from {MIN_TOKEN_ID} to {MAX_TOKEN_ID} (int64)"


def _real(name: str, value: object) -> float:
    value = plain_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value!r}")
    return float(value)


_FLIPPED = {">": "<", ">=": "<="}
_snake = functools.partial(re.compile("(?=[A-Z])").sub, "_")  # as `limits` names a keyword


def _adam_rule(name: str) -> tuple[Callable[[float], bool], str]:
    """The spec's bounds of one AdamParams field: a test and its text, such as ``0 < eps <= 1``."""
    checks = [
        (holds, op, bound)
        for keyword, holds, op in BOUNDS
        if (bound := getattr(limits, f"ADAM_PARAMS_{name}_{_snake(keyword)}".upper(), None))
        is not None
    ]

    def ok(value: float) -> bool:
        return all(holds(value, bound) for holds, _, bound in checks)

    if len(checks) == 2 and checks[0][1] in _FLIPPED:  # a range: lower, then upper bound
        (_, low_op, low), (_, high_op, high) = checks
        return ok, f"{low} {_FLIPPED[low_op]} {name} {high_op} {high}"
    return ok, " and ".join(f"{name} {op} {bound}" for _, op, bound in checks)


_ADAM_RULES = {name: _adam_rule(name) for name in limits.ADAM_PARAMS_DEFAULTS}


@attrs.frozen(kw_only=True)
class AdamParams:
    """AdamW settings for ``optim_step``; the defaults are the Weaver service's.

    Validated on construction with the bounds of openapi.yaml's ``AdamParams``
    (``grad_clip_norm=0`` disables clipping). All six are always sent. Numbers of other
    libraries (numpy's float32, say) are taken as the floats they stand for.
    """

    learning_rate: float = limits.ADAM_PARAMS_DEFAULTS["learning_rate"]
    beta1: float = limits.ADAM_PARAMS_DEFAULTS["beta1"]
    beta2: float = limits.ADAM_PARAMS_DEFAULTS["beta2"]
    eps: float = limits.ADAM_PARAMS_DEFAULTS["eps"]
    weight_decay: float = limits.ADAM_PARAMS_DEFAULTS["weight_decay"]
    grad_clip_norm: float = limits.ADAM_PARAMS_DEFAULTS["grad_clip_norm"]

    def __attrs_post_init__(self) -> None:
        for name, (ok, rule) in _ADAM_RULES.items():
            value = _real(name, getattr(self, name))
            if not ok(value):
                raise InvalidArgumentError(f"AdamParams: {rule} is required, got {value!r}")
            object.__setattr__(self, name, value)  # numpy's float32 is no JSON number

    def to_wire(self) -> wire.AdamParams:
        """The generated request model. Each field by name: the coverage of what the facade
        sends reads them, to list a field the spec adds."""
        return wire.AdamParams(
            learning_rate=self.learning_rate,
            beta1=self.beta1,
            beta2=self.beta2,
            eps=self.eps,
            weight_decay=self.weight_decay,
            grad_clip_norm=self.grad_clip_norm,
        )


def _items(where: str, values: object) -> tuple[Any, ...]:
    """``tuple(values)``, refusing what is no sequence of values with the documented error.

    ``str`` and ``bytes`` are iterable too, but never a column of numbers
    (``bytes`` would silently become its byte values).
    """
    if isinstance(values, str | bytes | bytearray) or not isinstance(values, Iterable):
        raw = isinstance(values, bytes | bytearray)
        raise InvalidDatumError(
            f"{where} must be a sequence of numbers, got {type(values).__name__}"
            + ("; for its byte values as ids, pass list() of it" if raw else "")
        )
    return tuple(values)


def _numbers(where: str, values: object) -> tuple[Any, ...]:
    items = _items(where, values)
    # The common case, built-in numbers only, is told apart at C speed.
    if set(map(type, items)) <= {int, float}:
        return items
    return tuple(map(plain_number, items))


# One converter per field, so that the error names the field.
def _tokens(values: Iterable[int]) -> tuple[int, ...]:
    return _numbers("Datum: tokens", values)


def _target_tokens(values: Iterable[int]) -> tuple[int, ...]:
    return _numbers("Datum: target_tokens", values)


def _weights(values: Iterable[float]) -> tuple[float, ...]:
    return _numbers("Datum: weights", values)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _not_an_id(value: object) -> bool:
    return not (_is_int(value) and MIN_TOKEN_ID <= value <= MAX_TOKEN_ID)


def _not_a_target(value: object) -> bool:
    return _not_an_id(value) and not (_is_int(value) and value == IGNORE_INDEX)


def _check_datum_id(datum_id: object) -> None:
    if datum_id is None:
        return
    most = limits.DATUM_DATUM_ID_MAX_LENGTH
    if not isinstance(datum_id, str) or len(datum_id) > most:
        raise InvalidDatumError(f"Datum: datum_id must be a string of at most {most} characters")
    try:
        datum_id.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be sent as JSON text: refuse it here, not in the transport.
        raise InvalidDatumError(
            f"Datum: datum_id {datum_id!r} is not valid Unicode text (it holds a lone surrogate)"
        ) from None


@attrs.frozen(kw_only=True)
class Datum:
    """One training example for ``forward_backward`` with the cross-entropy loss.

    Attributes:
        tokens: The input token ids (at least 1, each >= 0); the most is the base
            model's context, which the server checks (``BadRequestError``).
        target_tokens: One target per input position: the next token, or -100 to ignore.
        weights: One loss weight per input position (finite numbers).
        datum_id: An optional id echoed back in the result.

    ``datum_from_tokens`` builds the usual next-token-prediction Datum. Numbers of other
    libraries (numpy's int64 or float32, say) are taken as the ints and floats they
    stand for.
    """

    tokens: tuple[int, ...] = attrs.field(converter=_tokens)
    target_tokens: tuple[int, ...] = attrs.field(converter=_target_tokens)
    weights: tuple[float, ...] = attrs.field(converter=_weights)
    datum_id: str | None = None

    def __attrs_post_init__(self) -> None:
        n = len(self.tokens)
        if n < MIN_TOKENS:
            raise InvalidDatumError(f"Datum: tokens must hold at least {MIN_TOKENS} id, got {n}")
        for i, token in enumerate(self.tokens):
            if _not_an_id(token):
                raise InvalidDatumError(f"Datum: tokens[{i}] = {token!r}; {_IDS}")
        if len(self.target_tokens) != n:
            raise InvalidDatumError(
                f"Datum: {len(self.target_tokens)} target_tokens for {n} tokens; "
                "one target per input position is required"
            )
        for i, target in enumerate(self.target_tokens):
            if _not_a_target(target):
                raise InvalidDatumError(
                    f"Datum: target_tokens[{i}] = {target!r}; targets are token ids (ints "
                    f"from {MIN_TOKEN_ID} to {MAX_TOKEN_ID}), or {IGNORE_INDEX} to ignore "
                    "the position"
                )
        if len(self.weights) != n:
            raise InvalidDatumError(f"Datum: {len(self.weights)} weights for {n} tokens")
        for i, weight in enumerate(self.weights):
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise InvalidDatumError(f"Datum: weights[{i}] = {weight!r} is not a number")
            if not math.isfinite(weight):
                raise InvalidDatumError(f"Datum: weights[{i}] = {weight!r} is not finite")
        _check_datum_id(self.datum_id)

    def to_wire(self) -> wire.Datum:
        """The generated request model."""
        return wire.Datum(
            model_input=wire.ModelInput(
                chunks=[wire.EncodedTextChunk(type_="encoded_text", tokens=list(self.tokens))]
            ),
            loss_fn_inputs=wire.LossFnInputs(
                target_tokens=wire.TensorData(
                    data=list[float | list[float]](self.target_tokens),
                    dtype=wire.TensorDType.INT64,
                ),
                weights=wire.TensorData(
                    data=list[float | list[float]](self.weights),
                    dtype=wire.TensorDType.FLOAT32,
                ),
            ),
            datum_id=self.datum_id if self.datum_id is not None else UNSET,
        )


def datum_from_tokens(
    tokens: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    datum_id: str | None = None,
) -> Datum:
    """A next-token-prediction Datum: inputs ``tokens[:-1]``, targets ``tokens[1:]``.

    Args:
        tokens: At least two token ids.
        weights: One weight per target (``len(tokens) - 1``); all 1.0 by default.
        datum_id: An optional id echoed back in the result.
    """
    tokens = list(_items("datum_from_tokens: tokens", tokens))
    if len(tokens) < 2:
        raise InvalidDatumError(
            f"datum_from_tokens: need at least 2 tokens (an input and its next token), "
            f"got {len(tokens)}"
        )
    n = len(tokens) - 1
    # The last token is a target alone, which Datum would name target_tokens[n - 1]: name it
    # as the caller wrote it. (The others are inputs, named by their own index.)
    last = plain_number(tokens[n])
    if _not_a_target(last):
        raise InvalidDatumError(
            f"datum_from_tokens: tokens[{n}] = {last!r}; {_IDS}, and the last token, a "
            f"target only, may also be {IGNORE_INDEX} to ignore it"
        )
    weights = [1.0] * n if weights is None else list(_items("datum_from_tokens: weights", weights))
    if len(weights) != n:
        raise InvalidDatumError(
            f"datum_from_tokens: {len(weights)} weights for {n} targets; "
            "give one weight per predicted token (len(tokens) - 1)"
        )
    return Datum(tokens=tokens[:-1], target_tokens=tokens[1:], weights=weights, datum_id=datum_id)


# -- results ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ForwardBackwardResult:
    """The result of a forward-backward pass.

    Attributes:
        loss: The summed loss over all weighted positions (the ``loss:sum`` metric).
        logprobs: Per datum, the log-probability of each target position.
        metrics: Every metric the server reported, such as ``loss:sum``.
        datum_ids: Per datum, the id echoed by the server (or ``None``).
    """

    loss: float
    logprobs: tuple[tuple[float, ...], ...]
    metrics: Mapping[str, float]
    datum_ids: tuple[str | None, ...]


@attrs.frozen(kw_only=True)
class OptimStepResult:
    """The result of an optimizer step: the server's metrics (such as ``optim:step``)."""

    metrics: Mapping[str, float]


@attrs.frozen(kw_only=True)
class LoadResult:
    """The result of loading a checkpoint into a model.

    Attributes:
        path: The checkpoint that was loaded.
        include_optimizer: Whether the optimizer state (Adam moments and step) was restored.
        checkpoint_id: The checkpoint's id, when the server says.
        optimizer_step: The restored Adam step, when the server says (``None`` after a
            weights-only load).
        model_id: The model the checkpoint was loaded into, when known (from the server,
            else from the request).
    """

    path: CheckpointPath
    include_optimizer: bool
    checkpoint_id: uuid.UUID | None = None
    optimizer_step: int | None = None
    model_id: str | None = None


RESULT_FIELDS = (
    WireFields(
        "ForwardBackwardResult",
        ForwardBackwardResult,
        # Each output's logprobs and datum_id become the columns logprobs and datum_ids.
        mapped={"loss_fn_outputs": "logprobs"},
        derived={"loss": "metrics['loss:sum']"},
    ),
    WireFields(
        "LossFnOutput",
        ForwardBackwardResult,
        mapped={"datum_id": "datum_ids"},
        required={"datum_id": "one entry per output, None for an output without one"},
    ),
    WireFields(
        "TensorData",
        ForwardBackwardResult,
        # An output's logprobs are its numbers, row by row: the wire gives them no shape.
        mapped={"data": "logprobs"},
        left_out={"dtype": "JSON numbers, read as floats whatever the dtype"},
    ),
    WireFields("OptimStepResult", OptimStepResult),
    WireFields(
        "LoadResult",
        LoadResult,
        required=dict.fromkeys(
            ("path", "include_optimizer"),
            "taken from the load request when the reply leaves it out (the real wire); "
            "refused when that is unknown (after re-attaching)",
        ),
    ),
)


def _metrics(operation: str, schema: str, metrics: wire.Metrics) -> dict[str, float]:
    return {
        key: as_float(expect(operation, schema, field_at("metrics", key), value, (int, float)))
        for key, value in metrics.additional_properties.items()
    }


def _flat_numbers(operation: str, schema: str, field: str, values: list[Any]) -> list[float]:
    """TensorData's ``data``, a flat or two-level list (it has no shape), row by row."""
    # The common case, a flat row of floats, needs no check of each: one per token.
    if all(type(v) is float for v in values):
        return list(values)
    out: list[float] = []
    for j, v in enumerate(values):
        row = v if isinstance(v, list) else [v]
        where = f"{field}[{j}]" + ("[{}]" if isinstance(v, list) else "")
        for k, x in enumerate(row):
            out.append(as_float(expect(operation, schema, where.format(k), x, (int, float))))
    return out


def forward_backward_result(
    operation: str, data: Mapping[str, Any] | None, n_data: int | None
) -> ForwardBackwardResult:
    """Parse a done forward-backward operation's ``response``."""
    schema = "ForwardBackwardResult"
    gen = parse_model(operation, wire.ForwardBackwardResult, result_of(operation, schema, data))
    outputs = expect(operation, schema, "loss_fn_outputs", gen.loss_fn_outputs, list)
    if n_data is not None and len(outputs) != n_data:
        said = f"{len(outputs)} loss_fn_outputs for {n_data} data"
        raise field_error(operation, schema, "loss_fn_outputs", said)
    metrics = _metrics(operation, schema, gen.metrics)
    if "loss:sum" not in metrics:
        raise field_error(operation, schema, "metrics", "metrics has no `loss:sum`")
    logprobs, datum_ids = [], []
    for i, out in enumerate(outputs):
        field = f"loss_fn_outputs[{i}].logprobs.data"
        values = expect(operation, schema, field, out.logprobs.data, list)
        logprobs.append(tuple(_flat_numbers(operation, schema, field, values)))
        field = f"loss_fn_outputs[{i}].datum_id"
        datum_ids.append(optional(operation, schema, field, out.datum_id, str, nullable=False))
    return ForwardBackwardResult(
        loss=metrics["loss:sum"],
        logprobs=tuple(logprobs),
        metrics=metrics,
        datum_ids=tuple(datum_ids),
    )


def optim_step_result(operation: str, data: Mapping[str, Any] | None) -> OptimStepResult:
    """Parse a done optimizer-step operation's ``response``."""
    gen = parse_model(
        operation, wire.OptimStepResult, result_of(operation, "OptimStepResult", data)
    )
    return OptimStepResult(metrics=_metrics(operation, "OptimStepResult", gen.metrics))


def load_result(
    operation: str,
    data: Mapping[str, Any] | None,
    *,
    path: CheckpointPath | None,
    include_optimizer: bool | None,
    model_id: str | None,
) -> LoadResult:
    """Parse a done load operation's ``response``; ``path`` and ``include_optimizer``, what
    the request asked for (``None`` after re-attaching), fill its gaps (``RESULT_FIELDS``)."""
    schema = "LoadResult"
    gen = parse_model(operation, wire.LoadResult, data or {})
    found_path = (
        path if isinstance(gen.path, Unset) else path_from_wire(operation, schema, gen.path)
    )
    if isinstance(gen.include_optimizer, Unset):
        found_include = include_optimizer
    else:
        found_include = expect(operation, schema, "include_optimizer", gen.include_optimizer, bool)
    if found_path is None:
        raise _unknown_request(operation, "path")
    if found_include is None:
        raise _unknown_request(operation, "include_optimizer")
    checkpoint_id = optional(operation, schema, "checkpoint_id", gen.checkpoint_id, uuid.UUID)
    step = optional(operation, schema, "optimizer_step", gen.optimizer_step, int)
    if not isinstance(gen.model_id, Unset):
        model_id = expect(operation, schema, "model_id", gen.model_id, str)
    return LoadResult(
        path=found_path,
        include_optimizer=found_include,
        checkpoint_id=checkpoint_id,
        optimizer_step=step,
        model_id=model_id,
    )


def _unknown_request(operation: str, field: str) -> ResponseValidationError:
    said = f"field `{field}` missing, and the request is not known (re-attached operation)"
    return field_error(operation, "LoadResult", field, said)

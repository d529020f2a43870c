"""Turning schema-valid training requests into trainer inputs, with the semantic checks.

The schema cannot know a model's vocabulary or context, or that targets must line
up with the input tokens; these checks do, and name the datum and position. The
wire bounds neither a batch nor a sequence: the most this emulator takes are its
own capacity, refused like any other bad input (400 ``invalid_request``), and
checked first, by counting, so a refused batch costs no conversion. A tensor holds
one value per input token, so the sequence bound is its bound too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._base_models import BaseModelSpec
from ._errors import invalid
from ._trainer import IGNORE_INDEX, AdamParams, Datum

__all__ = ["MAX_BATCH", "adam_params", "datums"]

MAX_BATCH = 256

# A float32 rounds to infinity from here on (its largest value plus half a step).
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
_INT_BITS = {"int32": 32, "int64": 64}


def _fits(value: Any, dtype: str) -> bool:
    """Whether a JSON number can be held by a tensor of ``dtype`` (the spec's TensorData)."""
    bits = _INT_BITS.get(dtype)
    if bits is not None:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return whole and -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
    if dtype == "float32":
        return bool(abs(value) < _FLOAT32_OVERFLOW)
    return True  # float64: what JSON carries, less what overflows, checked below


def _all_fit(values: Sequence[Any], dtype: str) -> bool:
    """``_fits`` for every value, with C-speed builtins in the usual cases (a large
    batch has hundreds of thousands of values)."""
    if dtype in _INT_BITS and set(map(type, values)) == {int}:
        return _fits(min(values), dtype) and _fits(max(values), dtype)
    if dtype == "float32":
        return bool(max(map(abs, values)) < _FLOAT32_OVERFLOW)
    return dtype not in _INT_BITS or all(_fits(v, dtype) for v in values)


def _flatten(values: Sequence[Any]) -> list[Any]:
    """TensorData is a flat or two-level list; its values in row-major order."""
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


def _check_capacity(data: Sequence[Mapping[str, Any]], spec: BaseModelSpec, where: str) -> None:
    if len(data) > MAX_BATCH:
        raise invalid(
            where,
            f"{len(data)} Datum, more than the {MAX_BATCH} this server takes in one batch "
            f"for {spec.name}",
        )
    most = spec.max_sequence_length
    for i, datum in enumerate(data):
        n = sum(len(chunk["tokens"]) for chunk in datum["model_input"]["chunks"])
        if n > most:
            raise invalid(
                f"{where}[{i}].model_input",
                f"{n} tokens, more than {spec.name}'s maximum sequence length of {most}",
            )


def datums(data: Sequence[Mapping[str, Any]], spec: BaseModelSpec, input_key: str) -> list[Datum]:
    """``data`` of the request's ``input_key`` (``forward_backward_input`` or
    ``forward_input``, which errors name) as trainer inputs."""
    where = f"body.payload.{input_key}.data"
    _check_capacity(data, spec, where)
    vocab_size = spec.vocab_size
    out: list[Datum] = []
    for i, datum in enumerate(data):
        tokens: list[int] = []
        for chunk in datum["model_input"]["chunks"]:
            tokens.extend(int(t) for t in chunk["tokens"])
        for pos, token in enumerate(tokens):
            if token >= vocab_size:
                raise invalid(
                    f"{where}[{i}].model_input",
                    f"datum {i}, position {pos}: token {token} is outside the vocabulary "
                    f"(0..{vocab_size - 1})",
                )
        inputs = datum["loss_fn_inputs"]
        targets_raw = _flatten(inputs["target_tokens"]["data"])
        weights_raw = _flatten(inputs["weights"]["data"])
        for name, values in (("target_tokens", targets_raw), ("weights", weights_raw)):
            if len(values) != len(tokens):
                raise invalid(
                    f"{where}[{i}].loss_fn_inputs.{name}",
                    f"datum {i} has {len(values)} values, expected {len(tokens)} "
                    "(one per input token)",
                )
            dtype = inputs[name]["dtype"]
            if values and not _all_fit(values, dtype):
                pos, value = next((p, v) for p, v in enumerate(values) if not _fits(v, dtype))
                raise invalid(
                    f"{where}[{i}].loss_fn_inputs.{name}.data",
                    f"datum {i}, position {pos}: {value} does not fit dtype {dtype}",
                )
        targets: list[int] = []
        for pos, t in enumerate(targets_raw):
            whole = isinstance(t, int) or (isinstance(t, float) and t.is_integer())
            if not whole or not (t == IGNORE_INDEX or 0 <= t < vocab_size):
                raise invalid(
                    f"{where}[{i}].loss_fn_inputs.target_tokens.data",
                    f"datum {i}, position {pos}: target {t} must be a token id in "
                    f"0..{vocab_size - 1} or {IGNORE_INDEX} (ignored)",
                )
            targets.append(int(t))
        weights: list[float] = []
        for pos, w in enumerate(weights_raw):
            try:
                value = float(w)
            except OverflowError:
                value = math.inf
            if not math.isfinite(value):
                raise invalid(
                    f"{where}[{i}].loss_fn_inputs.weights.data",
                    f"datum {i}, position {pos}: weight must be a finite number",
                )
            weights.append(value)
        out.append(
            Datum(
                tokens=np.asarray(tokens, dtype=np.int64),
                targets=np.asarray(targets, dtype=np.int64),
                weights=np.asarray(weights, dtype=np.float64),
            )
        )
    return out


def adam_params(raw: Mapping[str, Any]) -> AdamParams:
    try:
        params = AdamParams(
            learning_rate=float(raw["learning_rate"]),
            beta1=float(raw["beta1"]),
            beta2=float(raw["beta2"]),
            eps=float(raw["eps"]),
            weight_decay=float(raw["weight_decay"]),
            grad_clip_norm=float(raw["grad_clip_norm"]),
        )
    except OverflowError as exc:
        raise invalid("body.payload.adam_params", "values must be finite numbers") from exc
    if not math.isfinite(params.grad_clip_norm):
        raise invalid("body.payload.adam_params.grad_clip_norm", "must be a finite number")
    return params

"""Turning schema-valid training requests into trainer inputs, with the semantic checks.

The schema cannot know a model's vocabulary or that targets must line up
with the input tokens; these checks do, and name the datum and position.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._errors import invalid
from ._trainer import IGNORE_INDEX, AdamParams, Datum

__all__ = ["adam_params", "datums"]

_DATA = "body.payload.forward_backward_input.data"


def _flatten(values: Sequence[Any]) -> list[Any]:
    """TensorData is a flat or two-level list; its values in row-major order."""
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


def datums(data: Sequence[Mapping[str, Any]], vocab_size: int) -> list[Datum]:
    out: list[Datum] = []
    for i, datum in enumerate(data):
        tokens: list[int] = []
        for chunk in datum["model_input"]["chunks"]:
            tokens.extend(int(t) for t in chunk["tokens"])
        for pos, token in enumerate(tokens):
            if token >= vocab_size:
                raise invalid(
                    f"{_DATA}[{i}].model_input",
                    f"datum {i}, position {pos}: token {token} is outside the vocabulary "
                    f"(0..{vocab_size - 1})",
                )
        inputs = datum["loss_fn_inputs"]
        targets_raw = _flatten(inputs["target_tokens"]["data"])
        weights_raw = _flatten(inputs["weights"]["data"])
        for name, values in (("target_tokens", targets_raw), ("weights", weights_raw)):
            if len(values) != len(tokens):
                raise invalid(
                    f"{_DATA}[{i}].loss_fn_inputs.{name}",
                    f"datum {i} has {len(values)} values, expected {len(tokens)} "
                    "(one per input token)",
                )
        targets: list[int] = []
        for pos, t in enumerate(targets_raw):
            whole = isinstance(t, int) or (isinstance(t, float) and t.is_integer())
            if not whole or not (t == IGNORE_INDEX or 0 <= t < vocab_size):
                raise invalid(
                    f"{_DATA}[{i}].loss_fn_inputs.target_tokens.data",
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
                    f"{_DATA}[{i}].loss_fn_inputs.weights.data",
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

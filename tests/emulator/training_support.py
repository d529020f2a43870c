"""Helpers of the training tests: a checkpoint's tensors, and an independent numpy
reference of the loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import safetensors.numpy

from tests.support.emulator import Json

Arrays = dict[str, npt.NDArray[Any]]


def tensors_of(data_dir: Path, checkpoint: Json) -> Arrays:
    (path,) = (p for p in data_dir.rglob("*.safetensors") if checkpoint["id"] in p.name)
    loaded: Arrays = safetensors.numpy.load(path.read_bytes())
    return loaded


def log_softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return out


def reference_loss(
    data: list[Json], embedding: npt.NDArray[Any], unembedding: npt.NDArray[Any]
) -> float:
    """Weighted cross-entropy of next-token targets, in float64, independent of the emulator."""
    total = 0.0
    for item in data:
        tokens = np.array(item["model_input"]["chunks"][0]["tokens"])
        targets = np.array(item["loss_fn_inputs"]["target_tokens"]["data"])
        weights = np.array(item["loss_fn_inputs"]["weights"]["data"], dtype=np.float64)
        logp = log_softmax(embedding[tokens].astype(np.float64) @ unembedding.astype(np.float64))
        keep = targets != -100
        total -= float((weights[keep] * logp[np.nonzero(keep)[0], targets[keep]]).sum())
    return total

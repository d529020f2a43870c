"""Converting a checkpoint's tensors to Hugging Face layout, on a worker thread.

The emulator's model is an embedding E (V x d) and an output projection used
as ``h @ W`` (W is d x V). A Hugging Face ``Linear`` stores ``[out, in]``, so
the files hold ``model.embed_tokens.weight`` = E and ``lm_head.weight`` = W^T,
both [V, d]. The trainer's LoRA update of W is ``A @ B`` (A d x r, B r x V);
for the Linear ``lm_head`` PEFT stores ``lora_A.weight`` = A^T [r, d] and
``lora_B.weight`` = B^T [V, r] and merges ``W^T + (lora_alpha / r) B^T A^T``,
so ``lora_alpha = r`` makes PEFT's scale the trainer's 1.

Files are written block by block (a few MiB at a time) with their SHA-256
computed on the way, so a merged export of any size needs bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._base_models import BASE_MODELS, base_weights
from ._tensorfile import CHUNK_BYTES, Entry, prefix, write_chunks

__all__ = [
    "ADAPTER_MODULE",
    "DEFAULT_SHARD_SIZE",
    "ExportPlan",
    "ExportSource",
    "WrittenFile",
    "export_plan",
]

F32 = npt.NDArray[np.float32]

ADAPTER_MODULE = "lm_head"
# Hugging Face's default max_shard_size is "5GB".
DEFAULT_SHARD_SIZE = 5_000_000_000
_SAFETENSORS_METADATA = {"format": "pt"}


@dataclass(frozen=True)
class ExportSource:
    """A checkpoint's tensors and what they belong to."""

    base_model: str
    training_mode: str
    lora_rank: int | None
    tensors: Mapping[str, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class WrittenFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class _Tensor:
    name: str
    rows: int
    cols: int
    block: Callable[[int, int], F32]  # rows [start, stop) as C-contiguous float32

    @property
    def nbytes(self) -> int:
        return self.rows * self.cols * 4


@dataclass(frozen=True)
class _SafetensorsFile:
    name: str
    tensors: tuple[_Tensor, ...]

    def header(self) -> bytes:
        """The bytes before the tensors': the header's length, then the header."""
        entries = [Entry(t.name, "F32", (t.rows, t.cols)) for t in self.tensors]
        return prefix(entries, _SAFETENSORS_METADATA)

    @property
    def size(self) -> int:
        return len(self.header()) + sum(t.nbytes for t in self.tensors)


@dataclass(frozen=True)
class ExportPlan:
    """The files of one export, known before anything is written."""

    json_files: tuple[tuple[str, bytes], ...]
    shards: tuple[_SafetensorsFile, ...]
    index: bytes | None  # model.safetensors.index.json, for a sharded model

    @property
    def shard_bytes(self) -> int:
        return sum(s.size for s in self.shards)

    def write(
        self,
        out_dir: Path,
        *,
        progress: Callable[[int, int], None],
        pause: Callable[[float], None],
        latency: float = 0.0,
    ) -> list[WrittenFile]:
        """Write every file into ``out_dir``, each fsynced; ``pause`` spreads ``latency``.

        ``progress(shards_done, bytes_done)`` follows the safetensors files.
        """
        written = [_write_bytes(out_dir / name, data) for name, data in self.json_files]
        total = max(self.shard_bytes, 1)
        done = 0
        for shard_no, shard in enumerate(self.shards):
            digest = hashlib.sha256()
            with open(out_dir / shard.name, "wb") as f:
                done += write_chunks(f, shard.header(), digest)
                for tensor in shard.tensors:
                    step = max(1, CHUNK_BYTES // max(tensor.cols * 4, 1))
                    for start in range(0, tensor.rows, step):
                        block = tensor.block(start, min(start + step, tensor.rows))
                        write_chunks(f, block, digest)
                        f.flush()  # progress counts bytes the file holds
                        done += block.nbytes
                        progress(shard_no, done)
                        if latency > 0:
                            pause(latency * block.nbytes / total)
                f.flush()
                os.fsync(f.fileno())
            written.append(WrittenFile(shard.name, shard.size, digest.hexdigest()))
            progress(shard_no + 1, done)
        if self.index is not None:
            written.append(_write_bytes(out_dir / "model.safetensors.index.json", self.index))
        return sorted(written, key=lambda w: w.name)


def _write_bytes(path: Path, data: bytes) -> WrittenFile:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return WrittenFile(path.name, len(data), hashlib.sha256(data).hexdigest())


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _f32(tensors: Mapping[str, npt.NDArray[np.generic]], name: str) -> F32:
    arr = tensors.get(name)
    if arr is None or arr.dtype != np.float32 or arr.ndim != 2:
        raise ValueError(f"checkpoint tensor {name} is missing or malformed")
    return np.asarray(arr, dtype=np.float32)


def _rows_of(matrix: F32) -> Callable[[int, int], F32]:
    return lambda a, b: np.ascontiguousarray(matrix[a:b], dtype="<f4")


def _columns_of(matrix: F32) -> Callable[[int, int], F32]:
    """Rows of ``matrix.T`` without materialising the transpose."""
    return lambda a, b: np.ascontiguousarray(matrix[:, a:b].T, dtype="<f4")


def _adapter_plan(source: ExportSource) -> ExportPlan:
    a = _f32(source.tensors, "lora.A")  # d x r
    b = _f32(source.tensors, "lora.B")  # r x V
    rank = a.shape[1]
    prefix = f"base_model.model.{ADAPTER_MODULE}"
    config = {
        "base_model_name_or_path": source.base_model,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "lora_alpha": rank,
        "lora_dropout": 0.0,
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": rank,
        "revision": None,
        "target_modules": [ADAPTER_MODULE],
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": False,
    }
    weights = _SafetensorsFile(
        "adapter_model.safetensors",
        (
            _Tensor(f"{prefix}.lora_A.weight", rank, a.shape[0], _columns_of(a)),
            _Tensor(f"{prefix}.lora_B.weight", b.shape[1], rank, _columns_of(b)),
        ),
    )
    return ExportPlan((("adapter_config.json", _json(config)),), (weights,), None)


def _model_tensors(source: ExportSource) -> tuple[_Tensor, _Tensor]:
    spec = BASE_MODELS[source.base_model]
    v, d = spec.vocab_size, spec.hidden_size
    if source.training_mode == "full_ft":
        embedding = _f32(source.tensors, "embedding")
        unembedding = _f32(source.tensors, "unembedding")
        lm_head = _columns_of(unembedding)
    else:
        embedding, w = base_weights(source.base_model)
        a = _f32(source.tensors, "lora.A")  # d x r
        b = _f32(source.tensors, "lora.B")  # r x V
        a_t = np.ascontiguousarray(a.T)

        def lm_head(start: int, stop: int) -> F32:
            # Rows of (W + A @ B)^T = W^T + B^T @ A^T, as the trainer computes h @ W + (h @ A) @ B.
            merged = w[:, start:stop].T + b[:, start:stop].T @ a_t
            return np.ascontiguousarray(merged, dtype="<f4")

    if embedding.shape != (v, d):
        raise ValueError(f"checkpoint embedding has shape {list(embedding.shape)}")
    return (
        _Tensor("model.embed_tokens.weight", v, d, _rows_of(embedding)),
        _Tensor("lm_head.weight", v, d, lm_head),
    )


def _shards(tensors: Sequence[_Tensor], shard_size: int) -> list[list[_Tensor]]:
    """Hugging Face's greedy split: a shard takes tensors while they fit under the limit."""
    shards: list[list[_Tensor]] = []
    current: list[_Tensor] = []
    size = 0
    for t in tensors:
        if current and size + t.nbytes > shard_size:
            shards.append(current)
            current, size = [], 0
        current.append(t)
        size += t.nbytes
    if current:
        shards.append(current)
    return shards


def _model_plan(source: ExportSource, shard_size: int) -> ExportPlan:
    spec = BASE_MODELS[source.base_model]
    config = {
        "architectures": ["WeaverForCausalLM"],
        "hidden_size": spec.hidden_size,
        "model_type": "weaver",
        "num_hidden_layers": 0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "vocab_size": spec.vocab_size,
        "weaver_base_model": source.base_model,
        "weaver_training_mode": source.training_mode,
    }
    tensors = _model_tensors(source)
    groups = _shards(tensors, shard_size)
    if len(groups) == 1:
        single = (_SafetensorsFile("model.safetensors", tuple(groups[0])),)
        return ExportPlan((("config.json", _json(config)),), single, None)
    n = len(groups)
    files = tuple(
        _SafetensorsFile(f"model-{k:05d}-of-{n:05d}.safetensors", tuple(group))
        for k, group in enumerate(groups, start=1)
    )
    index = {
        "metadata": {"total_size": sum(t.nbytes for t in tensors)},
        "weight_map": {t.name: f.name for f in files for t in f.tensors},
    }
    return ExportPlan((("config.json", _json(config)),), files, _json(index))


def export_plan(source: ExportSource, kind: str, shard_size: int) -> ExportPlan:
    """The files of an ``hf_adapter`` or ``hf_model`` export of ``source``."""
    if kind == "hf_adapter":
        if source.training_mode != "lora":
            raise ValueError("only a LoRA checkpoint has an adapter")
        return _adapter_plan(source)
    return _model_plan(source, shard_size)

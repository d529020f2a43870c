"""The base models the emulator can train, and their deterministic weights."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BASE_MODELS", "BaseModelSpec", "base_weights"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class BaseModelSpec:
    name: str
    vocab_size: int
    hidden_size: int
    max_lora_rank: int
    # The most tokens of one Datum: this emulator's capacity, not the wire's (which sets
    # none; the real service trains contexts of 32k tokens and more).
    max_sequence_length: int = 4096

    def config_json(self) -> dict[str, object]:
        return {
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "max_lora_rank": self.max_lora_rank,
            "max_sequence_length": self.max_sequence_length,
            "architecture": "embedding-unembedding",
        }


# weaver-large-vocab has a real-world vocabulary so that checkpoints reach
# realistic sizes: a rank-32 LoRA adapter is about 19 MB, 58 MB with Adam moments.
# weaver-large adds a small model's hidden size (896) to that vocabulary, so that
# its full weights (an hf_model export, merged or full_ft) are 1.09 GB (> 1 GiB),
# for benchmarks and slow tests; its base weights take as much memory.
BASE_MODELS: dict[str, BaseModelSpec] = {
    spec.name: spec
    for spec in (
        BaseModelSpec("weaver-tiny", 256, 16, 256),
        BaseModelSpec("weaver-large-vocab", 151936, 32, 64),
        BaseModelSpec("weaver-large", 151936, 896, 64),
    )
}


@functools.cache
def base_weights(name: str) -> tuple[F32, F32]:
    """The frozen (embedding Vxd, unembedding dxV) of a base model.

    Seeded by the model's name, so every process computes the same bits.
    The arrays are shared and read-only; full fine-tuning copies them.
    """
    spec = BASE_MODELS[name]
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    v, d = spec.vocab_size, spec.hidden_size
    embedding = rng.standard_normal((v, d), dtype=np.float32)
    unembedding = rng.standard_normal((d, v), dtype=np.float32) * np.float32(0.5 / np.sqrt(d))
    embedding.setflags(write=False)
    unembedding.setflags(write=False)
    return embedding, unembedding

"""A tiny but real trainer: token embedding plus output projection, AdamW.

The model maps each input token to an embedding row ``h`` (d values) and
scores the vocabulary with ``h @ W``. Position ``i`` predicts
``target_tokens[i]`` from input token ``i``. The loss is the weighted sum of
the negative log-probabilities of the targets (``-100`` is ignored), as in
the wire sheet's ``loss:sum``.

``lora`` trains a low-rank update ``A @ B`` of ``W`` (``A`` dxr, seeded; ``B``
rxV, zeros) with the base frozen; ``full_ft`` trains the embedding and ``W``.
Everything is float32 and computed in a fixed order, so the same seed and
data give bit-identical results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._base_models import BaseModelSpec, base_weights

__all__ = [
    "TRAINED_PARTS",
    "AdamParams",
    "Datum",
    "ForwardBackwardOutput",
    "NonFiniteError",
    "TrainedParts",
    "Trainer",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

IGNORE_INDEX = -100
_EXP_BLOCK = 1 << 22  # the most elements of exp(logits) at a time


class NonFiniteError(ArithmeticError):
    """The loss or the gradients overflowed; nothing was accumulated."""


@dataclass(frozen=True)
class TrainedParts:
    """Which of a transformer's parts training changes, as checkpoints report them."""

    unembed: bool
    mlp: bool
    attn: bool


# Both modes train the output projection (LoRA adapts it, full_ft also trains the
# embedding); the model has no MLP or attention, so a lora_config asking for them
# changes nothing.
TRAINED_PARTS = TrainedParts(unembed=True, mlp=False, attn=False)


@dataclass(frozen=True)
class Datum:
    tokens: I64
    targets: I64  # -100 where ignored
    weights: F64


@dataclass(frozen=True)
class AdamParams:
    learning_rate: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    grad_clip_norm: float


@dataclass(frozen=True)
class ForwardBackwardOutput:
    logprobs: list[F32]  # per datum, per position; 0.0 where the target is ignored
    loss_sum: float
    weight_sum: float
    tokens: int  # positions that count


class Trainer:
    """One model's training state. Not thread-safe: its worker serialises calls."""

    def __init__(self, spec: BaseModelSpec, mode: str, rank: int | None, seed: int) -> None:
        self.spec = spec
        self.mode = mode
        self.rank = rank
        embedding, unembedding = base_weights(spec.name)
        self._base_embedding = embedding
        self._base_unembedding = unembedding
        self.params: dict[str, F32]
        if mode == "lora":
            if rank is None:
                raise ValueError("lora needs a rank")
            rng = np.random.default_rng(seed)
            d = spec.hidden_size
            a = rng.standard_normal((d, rank), dtype=np.float32) * np.float32(1.0 / np.sqrt(d))
            self.params = {
                "lora.A": a,
                "lora.B": np.zeros((rank, spec.vocab_size), dtype=np.float32),
            }
        elif mode == "full_ft":
            self.params = {"embedding": embedding.copy(), "unembedding": unembedding.copy()}
        else:
            raise ValueError(f"unknown training mode {mode!r}")
        self.grads: dict[str, F32] | None = None
        self.reset_optimizer()

    # -- state --------------------------------------------------------------

    def reset_optimizer(self) -> None:
        self.step = 0
        # np.zeros, unlike zeros_like, leaves the pages to the system until written: fresh
        # moments are only read, and replaced by the first step.
        self.moments1 = {k: np.zeros(p.shape, p.dtype) for k, p in self.params.items()}
        self.moments2 = {k: np.zeros(p.shape, p.dtype) for k, p in self.params.items()}

    def state_tensors(self, include_optimizer: bool) -> dict[str, npt.NDArray[np.generic]]:
        """Copies of the trainable weights (and the Adam state) for a checkpoint."""
        out: dict[str, npt.NDArray[np.generic]] = {
            k: np.ascontiguousarray(p.copy()) for k, p in self.params.items()
        }
        if include_optimizer:
            for k in self.params:
                out[f"adam.m.{k}"] = np.ascontiguousarray(self.moments1[k].copy())
                out[f"adam.v.{k}"] = np.ascontiguousarray(self.moments2[k].copy())
            out["adam.step"] = np.array([self.step], dtype=np.int64)
        return out

    def load_tensors(
        self, tensors: dict[str, npt.NDArray[np.generic]], include_optimizer: bool
    ) -> None:
        """Restore weights; with ``include_optimizer`` also the Adam state, else a fresh one.

        Pending gradients are dropped: they belong to the weights being replaced.
        Raises ``ValueError`` when the tensors do not fit this model.
        """
        new_params: dict[str, F32] = {}
        for k, p in self.params.items():
            new_params[k] = _take(tensors, k, p.shape)
        if include_optimizer:
            m1 = {k: _take(tensors, f"adam.m.{k}", p.shape) for k, p in self.params.items()}
            m2 = {k: _take(tensors, f"adam.v.{k}", p.shape) for k, p in self.params.items()}
            step_arr = tensors.get("adam.step")
            if step_arr is None or step_arr.shape != (1,) or step_arr.dtype != np.int64:
                raise ValueError("tensor adam.step is missing or malformed")
            step = int(step_arr[0])
        self.params = new_params
        self.grads = None
        if include_optimizer:
            self.moments1, self.moments2, self.step = m1, m2, step
        else:
            self.reset_optimizer()

    # -- training -----------------------------------------------------------

    def _unembedding(self) -> tuple[F32, F32 | None, F32 | None]:
        if self.mode == "lora":
            return self._base_unembedding, self.params["lora.A"], self.params["lora.B"]
        return self.params["unembedding"], None, None

    def _embedding(self) -> F32:
        if self.mode == "lora":
            return self._base_embedding
        return self.params["embedding"]

    def forward_backward(self, data: list[Datum]) -> ForwardBackwardOutput:
        """The loss and logprobs of ``data``; its gradients are added to those the next
        optimizer step applies."""
        return self._pass(data, accumulate=True)

    def forward(self, data: list[Datum]) -> ForwardBackwardOutput:
        """What ``forward_backward`` answers for ``data``, leaving the gradients alone."""
        return self._pass(data, accumulate=False)

    def _pass(self, data: list[Datum], *, accumulate: bool) -> ForwardBackwardOutput:
        embedding = self._embedding()
        w, a, b = self._unembedding()
        # A forward pass computes no gradients (and allocates none: weaver-large's are big).
        grads = (
            _PassGradients(data, embedding.shape[1] if self.mode == "full_ft" else None)
            if accumulate
            else None
        )
        logprobs_out: list[F32] = []
        loss_sum = 0.0
        weight_sum = 0.0
        counted = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for datum in data:
                target_logp, wts = self._datum_pass(datum, embedding, w, a, b, grads)
                logprobs_out.append(target_logp)
                loss_sum += float(-(wts * target_logp.astype(np.float64)).sum())
                weight_sum += float(wts.sum())
                counted += int((datum.targets != IGNORE_INDEX).sum())
        if not np.isfinite(loss_sum) or (grads is not None and not grads.finite()):
            raise NonFiniteError("the loss or its gradients are not finite")
        if grads is not None:
            self._accumulate(grads)
        return ForwardBackwardOutput(logprobs_out, loss_sum, weight_sum, counted)

    def _datum_pass(
        self,
        datum: Datum,
        embedding: F32,
        w: F32,
        a: F32 | None,
        b: F32 | None,
        grads: _PassGradients | None,
    ) -> tuple[F32, F64]:
        """One datum's target logprobs and weights; its gradients go into ``grads``.

        Each nxV result is written over the last one, which is no longer needed."""
        h = embedding[datum.tokens]  # nxd
        logits = h @ w
        ha = None
        if a is not None and b is not None:
            ha = h @ a  # nxr
            logits += ha @ b
        logits -= logits.max(axis=1, keepdims=True)  # shifted
        # sum(exp) a block of rows at a time, not as an nxV array: numpy sums each row
        # pairwise along it, the same bits whatever rows are beside it.
        sums = np.empty((len(logits), 1), np.float32)
        step = max(1, _EXP_BLOCK // logits.shape[1])
        for i in range(0, len(logits), step):
            sums[i : i + step] = np.exp(logits[i : i + step]).sum(axis=1, keepdims=True)
        logp = logits  # nxV, float32
        logp -= np.log(sums)
        keep = datum.targets != IGNORE_INDEX
        rows = np.nonzero(keep)[0]
        target_logp = np.zeros(len(datum.tokens), dtype=np.float32)
        target_logp[rows] = logp[rows, datum.targets[rows]]
        wts = np.where(keep, datum.weights, 0.0)
        if grads is None:
            return target_logp, wts
        # d loss / d logits = w * (softmax - onehot), rows with weight 0 vanish.
        g = np.exp(logp, out=logp)
        g[rows, datum.targets[rows]] -= np.float32(1.0)
        g *= wts.astype(np.float32)[:, None]
        if self.mode == "lora":
            assert a is not None
            assert b is not None
            assert ha is not None
            grads.add("lora.B", ha.T @ g)
            grads.add("lora.A", h.T @ (g @ b.T))
        else:
            grads.add("unembedding", h.T @ g)
            grads.add_rows(datum.tokens, g @ w.T)
        return target_logp, wts

    def _accumulate(self, grads: _PassGradients) -> None:
        if self.grads is None:
            # np.zeros leaves the pages of embedding rows never trained to the system.
            self.grads = {
                k: grads.dense[k] if k in grads.dense else np.zeros(p.shape, p.dtype)
                for k, p in self.params.items()
            }
        else:
            for k, g in grads.dense.items():
                self.grads[k] += g
        if grads.sparse is not None:
            self.grads["embedding"][grads.rows] += grads.sparse

    def optim_step(self, adam: AdamParams) -> dict[str, float]:
        """AdamW (decoupled weight decay) on the accumulated gradients, then clear them."""
        grads = self.grads or {k: np.zeros(p.shape, p.dtype) for k, p in self.params.items()}
        grad_norm = float(
            np.sqrt(sum(float(np.square(g, dtype=np.float64).sum()) for g in grads.values()))
        )
        scale = 1.0
        if adam.grad_clip_norm > 0 and grad_norm > adam.grad_clip_norm:
            scale = adam.grad_clip_norm / (grad_norm + 1e-6)
        step = self.step + 1
        b1, b2 = adam.beta1, adam.beta2
        bias1 = 1.0 - b1**step
        bias2 = 1.0 - b2**step
        new_params: dict[str, F32] = {}
        new_m1: dict[str, F32] = {}
        new_m2: dict[str, F32] = {}
        # AdamW's float32 operations one by one, into three new arrays per weight (the
        # old state stays until the step is known finite) and one scratch array, where
        # each expression's result was an array of its own: a full_ft step took 12 arrays
        # of a weight's size more than its start, now 7. Addition commutes bit for bit.
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            for k, p in self.params.items():
                g = np.multiply(grads[k], np.float32(scale))
                m = np.multiply(self.moments1[k], np.float32(b1))
                v = np.multiply(g, np.float32(1.0 - b1))
                m += v  # m = m1 * b1 + g * (1 - b1)
                np.multiply(g, g, out=v)
                v *= np.float32(1.0 - b2)
                new_p = np.multiply(self.moments2[k], np.float32(b2))
                v += new_p  # v = m2 * b2 + g * g * (1 - b2)
                np.divide(v, np.float32(bias2), out=g)
                np.sqrt(g, out=g)
                g += np.float32(adam.eps)  # sqrt(v_hat) + eps
                np.divide(m, np.float32(bias1), out=new_p)
                new_p /= g  # update = m_hat / (sqrt(v_hat) + eps)
                np.multiply(new_p, np.float32(adam.learning_rate), out=g)
                np.multiply(p, np.float32(1.0 - adam.learning_rate * adam.weight_decay), out=new_p)
                new_p -= g  # decayed - lr * update
                new_params[k], new_m1[k], new_m2[k] = new_p, m, v
                del g
        if not np.isfinite(grad_norm) or not all(
            np.isfinite(x).all() for x in (*new_params.values(), *new_m2.values())
        ):
            raise NonFiniteError("the optimizer step produced non-finite values")
        # Commit only a finite step, so a failed step leaves the model usable.
        self.params, self.moments1, self.moments2 = new_params, new_m1, new_m2
        self.step = step
        self.grads = None
        return {
            "optim:step": float(self.step),
            "optim:grad_norm": grad_norm,
            "optim:clip_scale": scale,
            "optim:lr": adam.learning_rate,
        }


class _PassGradients:
    """One pass's gradients, summed as from zeros, which the trainer adds to those it
    accumulated once they are known finite.

    A dense one starts as its first datum's term plus 0 (0 + term makes a -0 a +0),
    saving an array of zeros and an addition's result. full_ft's embedding keeps only the
    rows of the pass's tokens, each summed in the order of its tokens: the other rows
    would add 0, which changes no accumulated gradient (a sum from +0 is never -0).
    """

    def __init__(self, data: list[Datum], embedding_width: int | None) -> None:
        self.dense: dict[str, F32] = {}
        self.rows: I64 = np.zeros(0, np.int64)  # sorted, of the pass's tokens
        self.sparse: F32 | None = None  # the embedding's gradient in those rows
        if embedding_width is not None:
            self.rows = np.unique(np.concatenate([self.rows, *(d.tokens for d in data)]))
            self.sparse = np.zeros((len(self.rows), embedding_width), np.float32)

    def add(self, name: str, term: F32) -> None:
        if name in self.dense:
            self.dense[name] += term
        else:
            term += np.float32(0.0)
            self.dense[name] = term

    def add_rows(self, tokens: I64, term: F32) -> None:
        assert self.sparse is not None
        np.add.at(self.sparse, np.searchsorted(self.rows, tokens), term)

    def finite(self) -> bool:
        arrays = (*self.dense.values(), *(() if self.sparse is None else (self.sparse,)))
        return all(np.isfinite(g).all() for g in arrays)


def _take(tensors: dict[str, npt.NDArray[np.generic]], name: str, shape: tuple[int, ...]) -> F32:
    arr = tensors.get(name)
    if arr is None:
        raise ValueError(f"tensor {name} is missing")
    if arr.dtype != np.float32 or arr.shape != shape:
        raise ValueError(
            f"tensor {name} has {arr.dtype}{list(arr.shape)}, expected float32{list(shape)}"
        )
    return np.array(arr, dtype=np.float32, copy=True)

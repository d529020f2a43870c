"""The trainer through the wire: the resume property, determinism, LoRA vs full fine-tuning,
weight decay and clipping, checked against an independent numpy reference where possible."""

from __future__ import annotations

import sqlite3
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from starlette.applications import Starlette

from tests.emulator.training_support import Arrays, log_softmax, reference_loss, tensors_of
from tests.support.emulator import ADAM, Api, assert_error, batch, datum
from weaver_facade.emulator import _tensorfile, _trainer
from weaver_facade.emulator._base_models import BASE_MODELS, base_weights
from weaver_facade.emulator._trainer import AdamParams, Datum, NonFiniteError, Trainer


def lora_pair(tensors: Arrays) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(A of d x r, B of r x V) of a LoRA checkpoint, whatever the tensors are called."""
    weights = {k: v for k, v in tensors.items() if not k.startswith("adam.")}
    assert len(weights) == 2, sorted(weights)
    first, second = sorted(weights.values(), key=lambda a: a.shape[1])
    return first, second


async def train(
    api: Api, model_id: str, steps: range, adam: dict[str, float] | None = None
) -> list[float]:
    return [await api.step(model_id, batch(i), adam) for i in steps]


async def test_resume_property(api: Api, data_dir: Path) -> None:
    model_id = await api.model(seed=11)
    first = await train(api, model_id, range(3))
    saved = await api.save(model_id, "weight_and_optimizer", name="after-3")
    l4_l6 = await train(api, model_id, range(3, 6))
    assert first[0] > l4_l6[-1], "training lowers the loss"

    # (3) weights and optimizer restored: the continuation is bit-identical.
    restored = await api.load(model_id, saved["path"], include_optimizer=True)
    assert restored["optimizer_step"] == 3
    assert await train(api, model_id, range(3, 6)) == l4_l6

    # (4) weights only: the first loss is L4, then the run of a fresh optimizer.
    await api.load(model_id, saved["path"], include_optimizer=False)
    fresh = await train(api, model_id, range(3, 6))
    assert fresh[0] == l4_l6[0]
    assert fresh[1:] != l4_l6[1:], "a fresh optimizer takes different steps"
    reference = await api.model(seed=11)
    await api.load(reference, saved["path"], include_optimizer=False)
    assert await train(api, reference, range(3, 6)) == fresh

    # The optimizer really restarted: one step after a weights-only load is step 1.
    await api.load(model_id, saved["path"], include_optimizer=False)
    await api.step(model_id, batch(3))
    after_one = tensors_of(data_dir, await api.save(model_id, "weight_and_optimizer"))
    steps = [v for k, v in after_one.items() if k.startswith("adam.") and v.dtype == np.int64]
    assert [int(s.reshape(-1)[0]) for s in steps] == [1]


async def test_same_seed_same_losses_other_seed_other_losses(api: Api) -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        runs[name] = await train(api, await api.model(seed=seed), range(4))
    assert runs["a"] == runs["b"]
    # LoRA's B starts at zero, so the first step sees the base alone; then the seed matters.
    assert runs["c"][0] == runs["a"][0]
    assert runs["c"][2:] != runs["a"][2:]
    full = [await train(api, await api.model(mode="full_ft"), range(3)) for _ in range(2)]
    assert full[0] == full[1]


async def test_lora_trains_a_low_rank_update_of_a_frozen_base(api: Api, data_dir: Path) -> None:
    model_id = await api.model(rank=3, seed=2)
    await train(api, model_id, range(4))
    tensors = tensors_of(data_dir, await api.save(model_id, "weight"))
    a, b = lora_pair(tensors)
    embedding, unembedding = base_weights("weaver-tiny")
    assert a.shape == (embedding.shape[1], 3)
    assert b.shape == (3, 256)
    assert np.abs(b).max() > 0, "the adapter was trained"
    probe = batch(9)
    served = (await api.forward_backward(model_id, probe))["metrics"]["loss:sum"]
    expected = reference_loss(
        probe, embedding, unembedding.astype(np.float64) + a.astype(np.float64) @ b
    )
    assert served == pytest.approx(expected, rel=1e-4)


async def test_full_fine_tuning_trains_every_weight(api: Api, data_dir: Path) -> None:
    model_id = await api.model(mode="full_ft")
    base_e, base_w = base_weights("weaver-tiny")
    start = (await api.forward_backward(model_id, batch(0)))["metrics"]["loss:sum"]
    assert start == pytest.approx(reference_loss(batch(0), base_e, base_w), rel=1e-4)
    await api.submit_optim(model_id)  # apply the gradients of that pass
    await train(api, model_id, range(1, 4))
    tensors = tensors_of(data_dir, await api.save(model_id, "weight"))
    shapes = sorted(v.shape for v in tensors.values())
    assert shapes == sorted([base_e.shape, base_w.shape])
    embedding = next(v for v in tensors.values() if v.shape == base_e.shape)
    unembedding = next(v for v in tensors.values() if v.shape == base_w.shape)
    assert not np.array_equal(embedding, base_e)
    assert not np.array_equal(unembedding, base_w)
    probe = batch(9)
    served = (await api.forward_backward(model_id, probe))["metrics"]["loss:sum"]
    assert served == pytest.approx(reference_loss(probe, embedding, unembedding), rel=1e-4)


async def test_forward_backward_outputs_logprobs_and_ignores_minus_100(api: Api) -> None:
    model_id = await api.model()
    tokens, targets = [3, 1, 4, 1, 5], [1, 4, -100, 5, 9]
    weights = [1.0, 0.5, 1.0, 2.0, 0.0]
    item = datum(tokens, targets, weights)
    item["datum_id"] = "d-7"
    result = await api.forward_backward(model_id, [item])
    (output,) = result["loss_fn_outputs"]
    assert output["datum_id"] == "d-7"
    assert output["logprobs"]["dtype"] == "float32"
    logprobs = output["logprobs"]["data"]
    assert len(logprobs) == len(tokens)
    embedding, unembedding = base_weights("weaver-tiny")
    logp = log_softmax(embedding[tokens].astype(np.float64) @ unembedding.astype(np.float64))
    for i, target in enumerate(targets):
        if target != -100:
            assert logprobs[i] == pytest.approx(logp[i, target], rel=1e-4)
    metrics = result["metrics"]
    assert metrics["tokens"] == 4
    assert metrics["loss:sum"] == pytest.approx(
        reference_loss([item], embedding, unembedding), rel=1e-4
    )
    assert metrics["loss:mean"] == pytest.approx(metrics["loss:sum"] / 3.5, rel=1e-6)


async def test_weight_decay_shrinks_weights_even_without_gradients(api: Api) -> None:
    embedding, unembedding = base_weights("weaver-tiny")
    probe = batch(0)
    initial = reference_loss(probe, embedding, unembedding)
    losses = {}
    for decay in (0.0, 0.5):
        model_id = await api.model(mode="full_ft")
        await api.done(
            await api.submit_optim(model_id, {**ADAM, "learning_rate": 0.1, "weight_decay": decay})
        )
        losses[decay] = (await api.forward_backward(model_id, probe))["metrics"]["loss:sum"]
    assert losses[0.0] == pytest.approx(initial, rel=1e-4)  # no gradient, no decay: no change
    shrunk = reference_loss(probe, embedding * np.float32(0.95), unembedding * np.float32(0.95))
    assert losses[0.5] == pytest.approx(shrunk, rel=1e-4)  # AdamW: p *= 1 - lr * wd
    assert abs(losses[0.5] - initial) > 1e-3


async def test_gradient_clipping_scales_the_gradient_to_the_limit(api: Api, data_dir: Path) -> None:
    norms = {}
    for clip in (0.0, 0.01):
        model_id = await api.model(mode="full_ft")
        await api.forward_backward(model_id, batch(0))
        metrics = (
            await api.done(await api.submit_optim(model_id, {**ADAM, "grad_clip_norm": clip}))
        )["metrics"]
        assert metrics["optim:step"] == 1
        tensors = tensors_of(data_dir, await api.save(model_id, "weight_and_optimizer"))
        first_moments = [v for k, v in tensors.items() if k.startswith("adam.m")]
        assert first_moments
        # After one step m = (1 - beta1) * g, with g the (clipped) gradient.
        norm = float(np.sqrt(sum(np.square(m.astype(np.float64)).sum() for m in first_moments)))
        norms[clip] = (norm / (1 - ADAM["beta1"]), metrics["optim:grad_norm"])
    unclipped_norm, reported = norms[0.0]
    assert unclipped_norm == pytest.approx(reported, rel=1e-4)
    assert reported > 0.01
    clipped_norm, reported_before_clipping = norms[0.01]
    assert clipped_norm == pytest.approx(0.01, rel=1e-3)
    assert reported_before_clipping == pytest.approx(reported, rel=1e-6)


async def test_large_vocabulary_checkpoints_have_realistic_sizes(api: Api) -> None:
    vocab = 151936
    model_id = await api.model(base_model="weaver-large-vocab", rank=32)
    data = [datum([0, 151935, 77_777, 5], [151935, 77_777, 5, 1])]
    loss = await api.step(model_id, data)
    assert loss == pytest.approx(4 * np.log(vocab), rel=0.2)
    ckpt = await api.save(model_id, "weight_and_optimizer", name="big")
    # B alone is rank x vocab float32 (about 19 MB); Adam keeps two more of each.
    assert 40_000_000 < ckpt["size_bytes"] < 200_000_000
    light = await api.save(model_id, "weight", name="light")
    assert 10_000_000 < light["size_bytes"] < ckpt["size_bytes"]
    sibling = await api.model(base_model="weaver-large-vocab", rank=32)
    await api.load(sibling, ckpt["path"], include_optimizer=True)
    assert await api.step(sibling, data) == await api.step(model_id, data)

    outside = [datum([0, vocab], [1, 2])]
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/forward-backward-passes",
            json=api.fb_body(model_id, outside),
        ),
        400,
        "invalid_request",
        "datum 0",
        "position 1",
    )


class _CommitFailsOnce:
    """The store's connection, whose next COMMIT fails as on a full disk (SQLite then rolls
    the transaction back itself)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.armed = True

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            self.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


class _FullUntilFreed(_CommitFailsOnce):
    """The store's connection on a disk that the first completed operation fills: from its
    completion on, every COMMIT fails as on a full disk while checkpoint files are there.
    The files discarded meanwhile are removed (``release``) once a second COMMIT failed."""

    def __init__(self, conn: sqlite3.Connection, checkpoints: Path) -> None:
        super().__init__(conn)
        self.checkpoints = checkpoints
        self.armed = False
        self.fired = False
        self.refused = 0
        self.release = threading.Event()

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if not self.fired and "SET status='done'" in sql:
            self.fired = True
        self.armed = self.fired and any(self.checkpoints.iterdir())
        if sql == "COMMIT" and self.armed:
            self.refused += 1
            if self.refused == 2:
                self.release.set()
        return super().execute(sql, *args)


async def test_a_save_that_fills_the_disk_ends_in_error(
    app: Starlette, api: Api, data_dir: Path
) -> None:
    """A save whose file filled the disk, so that its completion could not commit, stayed
    `running` for ever, its checkpoint `pending`, and the client waited out its timeout:
    the failure is recorded once the failed save's file has made room for it."""
    emulator = app.state.emulator
    model_id = await api.model()
    await api.step(model_id, batch())
    store = emulator.store
    failing = _FullUntilFreed(store._conn, data_dir / "checkpoints")
    store._remover.submit(failing.release.wait, 30)  # holds the removals back until then
    store._conn = failing
    try:
        final = await api.wait(await api.submit_save(model_id, name="disk-full"), budget=2)
    finally:
        store._conn = failing.conn
        failing.release.set()
    assert failing.refused >= 2, "the completion and a failure were refused"
    assert final["status"] == "error", final
    assert final["error_code"] == "internal"
    assert not any((data_dir / "checkpoints").iterdir())
    assert (await api.checkpoints(model_id))["items"] == []
    saved = await api.save(model_id, name="disk-full")  # the name is free, the queue moves
    assert saved["status"] == "completed"


async def test_a_step_whose_commit_failed_never_trains(app: Starlette, api: Api) -> None:
    """A request answered 500 because its transaction did not commit made no operation,
    so the job queued inside that transaction must not train: the client's retry of the
    same seq_id (the 500 says retryable) would apply the batch twice."""
    emulator = app.state.emulator
    data = batch()
    clean = await api.model()
    await api.forward_backward(clean, data)
    model_id = await api.model()
    store = emulator.store
    failing = _CommitFailsOnce(store._conn)
    store._conn = failing
    body = api.fb_body(model_id, data)
    refused = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=body)
    assert_error(refused, 500, "internal")
    assert not failing.armed
    store._conn = failing.conn
    retried = await api.ok("POST", f"/models/{model_id}/forward-backward-passes", 202, json=body)
    await api.done(retried)  # after the queued job of the refused request, if it ran
    once = emulator._trainers[clean].grads
    after_retry = emulator._trainers[model_id].grads
    assert once is not None
    assert after_retry is not None
    for name, grad in once.items():
        np.testing.assert_array_equal(after_retry[name], grad, err_msg=name)


def adamw_by_the_book(
    p: npt.NDArray[Any],
    m1: npt.NDArray[Any],
    m2: npt.NDArray[Any],
    grad: npt.NDArray[Any],
    scale: float,
    step: int,
    adam: dict[str, float] = ADAM,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """One AdamW step on float32 arrays, an expression per line."""
    f = np.float32
    lr, b1, b2 = adam["learning_rate"], adam["beta1"], adam["beta2"]
    g = grad * f(scale)
    m = m1 * f(b1) + g * f(1.0 - b1)
    v = m2 * f(b2) + (g * g) * f(1.0 - b2)
    update = (m / f(1.0 - b1**step)) / (np.sqrt(v / f(1.0 - b2**step)) + f(adam["eps"]))
    return p * f(1.0 - lr * adam["weight_decay"]) - f(lr) * update, m, v


def large_full_ft() -> tuple[Trainer, list[Datum]]:
    trainer = Trainer(BASE_MODELS["weaver-large-vocab"], "full_ft", None, 0)
    tokens = np.arange(0, 151936, 4099, dtype=np.int64)
    return trainer, [Datum(tokens, np.roll(tokens, -1), np.ones(len(tokens)))]


def test_an_optimizer_step_is_adamw_bit_for_bit_and_a_failed_one_changes_nothing() -> None:
    trainer, data = large_full_ft()
    params = AdamParams(**ADAM)
    for step in (1, 2, 3):
        trainer.forward_backward(data)
        grads = trainer.grads
        assert grads is not None
        before = {
            k: (p, trainer.moments1[k], trainer.moments2[k], grads[k])
            for k, p in trainer.params.items()
        }
        saved = {k: tuple(a.tobytes() for a in arrays) for k, arrays in before.items()}
        with pytest.raises(NonFiniteError):  # a float32 learning rate of inf
            trainer.optim_step(AdamParams(**{**ADAM, "learning_rate": 1e39}))
        assert (trainer.step, trainer.grads) == (step - 1, grads)
        for k, arrays in before.items():
            now = (trainer.params[k], trainer.moments1[k], trainer.moments2[k])
            assert all(a is b for a, b in zip(now, arrays[:3], strict=True)), k
            assert tuple(a.tobytes() for a in arrays) == saved[k], k
        scale = trainer.optim_step(params)["optim:clip_scale"]
        assert trainer.step == step
        for k, (p, m1, m2, grad) in before.items():
            expected = adamw_by_the_book(p, m1, m2, grad, scale, step)
            now = (trainer.params[k], trainer.moments1[k], trainer.moments2[k])
            assert [a.tobytes() for a in now] == [a.tobytes() for a in expected], k


# Each step's settings: clipping (at 1.0 or far below the norm) or none, weight decay or none.
VARIED = (
    ADAM,
    {**ADAM, "grad_clip_norm": 0.0, "weight_decay": 0.0},
    {**ADAM, "learning_rate": 1e-3, "beta1": 0.0, "beta2": 0.999, "grad_clip_norm": 1e-3},
    {**ADAM, "eps": 1e-3, "weight_decay": 0.5, "grad_clip_norm": 0.0},
)


@pytest.mark.parametrize("mode", ["lora", "full_ft"])
def test_optimizer_steps_of_varied_settings_and_a_resume_are_adamw_bit_for_bit(
    mode: str, tmp_path: Path
) -> None:
    rank = 4 if mode == "lora" else None
    trainer = Trainer(BASE_MODELS["weaver-tiny"], mode, rank, 5)
    rng = np.random.default_rng(5)
    for step, settings in enumerate(VARIED * 2, start=1):
        if step == len(VARIED) + 1:  # a checkpoint with the Adam state, through its file
            path = tmp_path / "state.safetensors"
            with path.open("wb") as f:
                _tensorfile.save(f, trainer.state_tensors(include_optimizer=True), None)
            trainer = Trainer(BASE_MODELS["weaver-tiny"], mode, rank, 6)
            with path.open("rb") as f:
                trainer.load_tensors(_tensorfile.load(f)[0], include_optimizer=True)
        tokens = rng.integers(0, 256, 24)
        trainer.forward_backward([Datum(tokens, np.roll(tokens, -1), rng.random(24) * 2)])
        grads = trainer.grads
        assert grads is not None
        before = {
            k: (p, trainer.moments1[k], trainer.moments2[k]) for k, p in trainer.params.items()
        }
        out = trainer.optim_step(AdamParams(**settings))
        clipped = 0 < settings["grad_clip_norm"] < out["optim:grad_norm"]
        assert (out["optim:clip_scale"] < 1, trainer.step) == (clipped, step)
        for k, (p, m1, m2) in before.items():
            expected = adamw_by_the_book(
                p, m1, m2, grads[k], out["optim:clip_scale"], step, settings
            )
            now = (trainer.params[k], trainer.moments1[k], trainer.moments2[k])
            assert [a.tobytes() for a in now] == [a.tobytes() for a in expected], (step, k)


def test_a_full_ft_optimizer_step_holds_few_arrays_of_a_weights_size() -> None:
    # Its results take three new arrays per weight (the old state stays until the step is
    # known finite), each weaver-large-vocab weight is as large as the other, and the step
    # needs one array more: it took 12, holding each expression's result.
    trainer, data = large_full_ft()
    trainer.forward_backward(data)
    weight = trainer.params["embedding"].nbytes
    tracemalloc.start()
    try:
        trainer.optim_step(AdamParams(**ADAM))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 6 * weight < peak < 7.5 * weight


Pass = tuple[list[npt.NDArray[Any]], float, dict[str, npt.NDArray[Any]]]


@np.errstate(over="ignore", invalid="ignore")  # where overflows are the point
def pass_by_the_book(trainer: Trainer, data: list[Datum]) -> Pass:
    """One pass's float32 logprobs, loss and gradients, the gradients summed datum by
    datum from zeros, each expression an array of its own."""
    emb = trainer.params.get("embedding", base_weights(trainer.spec.name)[0])
    w = trainer.params.get("unembedding", base_weights(trainer.spec.name)[1])
    logprobs, loss = [], 0.0
    grads = {k: np.zeros_like(p) for k, p in trainer.params.items()}
    for d in data:
        h = emb[d.tokens]
        logits = h @ w
        if trainer.mode == "lora":
            logits = logits + (h @ trainer.params["lora.A"]) @ trainer.params["lora.B"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        keep = np.nonzero(d.targets != -100)[0]
        logprobs.append(np.zeros(len(d.tokens), np.float32))
        logprobs[-1][keep] = logp[keep, d.targets[keep]]
        weights = np.where(d.targets != -100, d.weights, 0.0)
        loss += float(-(weights * logprobs[-1].astype(np.float64)).sum())
        g = np.exp(logp)
        g[keep, d.targets[keep]] -= np.float32(1.0)
        g *= weights.astype(np.float32)[:, None]
        if trainer.mode == "lora":
            grads["lora.B"] += (h @ trainer.params["lora.A"]).T @ g
            grads["lora.A"] += h.T @ (g @ trainer.params["lora.B"].T)
        else:
            grads["unembedding"] += h.T @ g
            np.add.at(grads["embedding"], d.tokens, g @ w.T)
    return logprobs, loss, grads


def bits(arrays: Arrays | None) -> dict[str, bytes] | None:
    return None if arrays is None else {k: a.tobytes() for k, a in arrays.items()}


@pytest.mark.parametrize("mode", ["lora", "full_ft"])
def test_passes_are_the_books_bit_for_bit(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Three rows of exp(logits) at a time, so that a datum's log-sum-exp takes many blocks.
    monkeypatch.setattr(_trainer, "_EXP_BLOCK", 3 * 256 + 5)
    trainer = Trainer(BASE_MODELS["weaver-tiny"], mode, 4 if mode == "lora" else None, 3)
    rng = np.random.default_rng(3)
    for _ in range(2):  # a step between, so that LoRA's B is no longer zero
        expected: dict[str, npt.NDArray[Any]] = {}
        for n_data in (1, 3, 2):
            data = []
            for _ in range(n_data):
                tokens = rng.integers(0, 24, 40)  # tokens repeat within and across data
                targets = np.where(rng.random(40) < 0.2, -100, np.roll(tokens, -1))
                weights = np.where(rng.random(40) < 0.2, 0.0, rng.random(40) * 2)
                data.append(Datum(tokens, targets, weights))
            logprobs, loss, pass_grads = pass_by_the_book(trainer, data)
            for k, g in pass_grads.items():
                expected[k] = expected[k] + g if k in expected else g
            out = trainer.forward_backward(data)
            assert bits(trainer.grads) == bits(expected)
            for got in (out, trainer.forward(data)):
                assert [a.tobytes() for a in got.logprobs] == [a.tobytes() for a in logprobs]
                assert got.loss_sum == loss
        # Gradients beyond float32, of a finite loss: the pass adds none.
        data[1].weights[:] = 3e38
        _, loss, pass_grads = pass_by_the_book(trainer, data)
        assert np.isfinite(loss)
        assert not all(np.isfinite(g).all() for g in pass_grads.values())
        with pytest.raises(NonFiniteError):
            trainer.forward_backward(data)
        assert bits(trainer.grads) == bits(expected)
        trainer.optim_step(AdamParams(**ADAM))


def test_a_pass_whose_embedding_gradient_alone_overflows_adds_nothing() -> None:
    trainer = Trainer(BASE_MODELS["weaver-tiny"], "full_ft", None, 0)
    # A small embedding beside a large unembedding: only d loss / d embedding overflows.
    scaled: Arrays = {
        "embedding": trainer.params["embedding"] * np.float32(1e-3),
        "unembedding": trainer.params["unembedding"] * np.float32(1e3),
    }
    trainer.load_tensors(scaled, include_optimizer=False)
    tokens = np.arange(8)
    data = [Datum(tokens, np.roll(tokens, -1), np.full(8, 1e37))]
    _, loss, grads = pass_by_the_book(trainer, data)
    assert np.isfinite(loss)
    assert np.isfinite(grads["unembedding"]).all()
    assert not np.isfinite(grads["embedding"]).all()
    with pytest.raises(NonFiniteError):
        trainer.forward_backward(data)
    assert trainer.grads is None


def test_a_passs_first_gradient_term_is_summed_as_from_zeros() -> None:
    # Seen from zeros, a -0 is a +0; this BLAS gives no -0 terms, others may.
    term = np.array([-0.0, 0.0, 1.0], np.float32)
    expected = (np.zeros(3, np.float32) + term).tobytes()
    grads = _trainer._PassGradients([], None)
    grads.add("lora.B", term)
    assert grads.dense["lora.B"].tobytes() == expected


def test_a_full_ft_forward_backward_holds_few_arrays_of_a_weights_size() -> None:
    # A first pass keeps its gradients (two weights: weaver-large-vocab's are as large as
    # each other); a later one holds the unembedding's term beside the datum's 38 x V
    # logits (1.19 weights, d being 32): 2.25 and 2.19 measured. Each pass took 7.75: a
    # full set of zeros, the term and four 38 x V arrays.
    trainer, data = large_full_ft()
    weight = trainer.params["embedding"].nbytes
    peaks = []
    for _ in range(2):
        tracemalloc.start()
        try:
            trainer.forward_backward(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        peaks.append(peak / weight)
    assert 2 < peaks[0] < 2.5, peaks
    assert 2 < peaks[1] < 2.5, peaks

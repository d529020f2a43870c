"""Forward passes (``POST /models/{id}/forward-passes``, the official SDK's ``forward()``):
the loss and logprobs of a forward-backward pass, no gradients, the model's one seq_id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.emulator.training_support import reference_loss, tensors_of
from tests.support.emulator import Api, Json, assert_error, batch, datum
from weaver_facade.emulator._base_models import base_weights


def forward_path(model_id: str) -> str:
    return f"/models/{model_id}/forward-passes"


async def test_a_forward_pass_answers_what_forward_backward_does_on_the_same_weights(
    api: Api,
) -> None:
    model_id = await api.model(mode="full_ft")
    probe = batch(4)
    probe[0]["datum_id"] = "d-0"
    # Independent source: the base weights, scored in float64 by the test's own numpy.
    embedding, unembedding = base_weights("weaver-tiny")
    op = await api.submit_forward(model_id, probe)
    assert op["kind"] == "forward"
    first = await api.done(op)
    assert first["metrics"]["loss:sum"] == pytest.approx(
        reference_loss(probe, embedding, unembedding), rel=1e-4
    )
    assert first["loss_fn_outputs"][0]["datum_id"] == "d-0"
    assert "datum_id" not in first["loss_fn_outputs"][1]
    # Trained weights: forward, then forward-backward, on the same weights.
    await api.step(model_id, batch(0))
    forward = await api.forward(model_id, probe)
    fb = await api.forward_backward(model_id, probe)
    assert forward == fb
    assert forward["metrics"]["loss:sum"] != first["metrics"]["loss:sum"], "the step changed it"


@pytest.mark.parametrize("mode", ["lora", "full_ft"])
async def test_a_forward_pass_accumulates_no_gradient(api: Api, data_dir: Path, mode: str) -> None:
    """forward-backward + forward + optimizer step == forward-backward + optimizer step."""
    runs: dict[str, list[float]] = {}
    weights = {}
    for name, with_forward in (("plain", False), ("with_forward", True)):
        model_id = await api.model(mode=mode, seed=3)
        # A step first, so that LoRA's B is no longer zero and the adapter's gradients count.
        await api.step(model_id, batch(0))
        fb = await api.submit_fb(model_id, batch(1))
        if with_forward:
            await api.done(await api.submit_forward(model_id, batch(2)))
        optim = await api.done(await api.submit_optim(model_id))
        fb_loss = (await api.done(fb))["metrics"]["loss:sum"]
        after = await api.forward_backward(model_id, batch(3))
        runs[name] = [fb_loss, optim["metrics"]["optim:grad_norm"], after["metrics"]["loss:sum"]]
        weights[name] = tensors_of(data_dir, await api.save(model_id, "weight_and_optimizer"))
    assert runs["plain"] == runs["with_forward"]
    assert runs["plain"][1] > 0
    assert weights["plain"].keys() == weights["with_forward"].keys()
    for key, value in weights["plain"].items():
        assert np.array_equal(value, weights["with_forward"][key]), key


async def test_a_forward_pass_alone_leaves_nothing_for_the_optimizer(api: Api) -> None:
    model_id = await api.model(mode="full_ft")
    await api.forward(model_id, batch(0))
    optim = await api.done(await api.submit_optim(model_id))
    assert optim["metrics"]["optim:grad_norm"] == 0.0
    # A forward-backward pass does leave a gradient (the same check can fail).
    await api.forward_backward(model_id, batch(0))
    assert (await api.done(await api.submit_optim(model_id)))["metrics"]["optim:grad_norm"] > 0


async def test_forward_shares_the_models_seq_id_counter(api: Api) -> None:
    model_id = await api.model()
    body = api.forward_body(model_id, batch(0))  # seq_id 1
    first = await api.ok("POST", forward_path(model_id), 202, json=body)
    # The same body again is the same operation, 200.
    again = await api.ok("POST", forward_path(model_id), 200, json=body)
    assert again["id"] == first["id"]
    # seq_id 1 is taken: a forward-backward (even of the same data) or another forward is 409.
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/forward-backward-passes",
            json=api.fb_body(model_id, batch(0), seq_id=1),
        ),
        409,
        "seq_id_conflict",
    )
    assert_error(
        await api.request(
            "POST", forward_path(model_id), json=api.forward_body(model_id, batch(1), seq_id=1)
        ),
        409,
        "seq_id_conflict",
    )
    # ...and so is a forward on a seq_id a forward-backward or optimizer step used.
    api.seq[model_id] = 1
    await api.step(model_id, batch(0))  # seq_ids 2 and 3
    for used in (2, 3):
        assert_error(
            await api.request(
                "POST", forward_path(model_id), json=api.forward_body(model_id, batch(0), used)
            ),
            409,
            "seq_id_conflict",
        )
    assert (await api.ok("GET", f"/models/{model_id}"))["next_seq_id"] == 4
    await api.forward(model_id, batch(0))  # seq_id 4
    assert (await api.ok("GET", f"/models/{model_id}"))["next_seq_id"] == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("forward_input"), "body.payload.forward_input"),
        (lambda p: p.update(forward_backward_input=p.pop("forward_input")), "body.payload"),
        (lambda p: p["forward_input"].update(loss_fn="mse"), "body.payload.forward_input.loss_fn"),
        (lambda p: p["forward_input"].update(data=[]), "body.payload.forward_input.data"),
        (lambda p: p.update(seq_id=0), "body.payload.seq_id"),
        (lambda p: p.update(surprise=1), "body.payload.surprise"),
    ],
)
async def test_a_bad_forward_body_is_a_400_naming_the_field(
    api: Api, change: object, field: str
) -> None:
    model_id = await api.model()
    body = api.forward_body(model_id, batch(0))
    assert callable(change)
    change(body["payload"])
    response = await api.request("POST", forward_path(model_id), json=body)
    error = assert_error(response, 400, "invalid_request", field)
    assert error["details"]["field"].startswith(field)


async def test_a_forward_pass_checks_tokens_and_its_model_id(api: Api) -> None:
    model_id = await api.model()
    outside = [datum([1, 300], [2, 3])]  # weaver-tiny's vocabulary is 0..255
    error = assert_error(
        await api.request("POST", forward_path(model_id), json=api.forward_body(model_id, outside)),
        400,
        "invalid_request",
        "token 300 is outside the vocabulary",
    )
    assert error["details"]["field"] == "body.payload.forward_input.data[0].model_input"
    # The emulator's capacity (its supported-models listing states it), the forward's field.
    listing = await api.ok("GET", "/supported-models")
    most = next(m for m in listing["items"] if m["name"] == "weaver-tiny")["config"][
        "max_sequence_length"
    ]
    long = [datum([1] * (most + 1), [2] * (most + 1))]
    error = assert_error(
        await api.request("POST", forward_path(model_id), json=api.forward_body(model_id, long)),
        400,
        "invalid_request",
        f"{most + 1} tokens, more than weaver-tiny's maximum sequence length of {most}",
    )
    assert error["details"]["field"] == "body.payload.forward_input.data[0].model_input"
    too_many = batch(0) * 129  # 258 Datum
    error = assert_error(
        await api.request(
            "POST", forward_path(model_id), json=api.forward_body(model_id, too_many)
        ),
        400,
        "invalid_request",
        "258 Datum, more than the",
    )
    assert error["details"]["field"] == "body.payload.forward_input.data"
    other = await api.model()
    assert_error(
        await api.request("POST", forward_path(model_id), json=api.forward_body(other, batch(0))),
        400,
        "invalid_request",
        "body.payload.model_id",
    )


async def test_forward_on_a_terminated_or_unknown_model(api: Api, api_b: Api) -> None:
    model_id = await api.model()
    await api.ok("POST", f"/models/{model_id}/terminate")
    for path, build in (
        (forward_path(model_id), api.forward_body),
        (f"/models/{model_id}/forward-backward-passes", api.fb_body),
    ):
        assert_error(
            await api.request("POST", path, json=build(model_id, batch(0))),
            409,
            "model_terminated",
            model_id,
        )
    body: Json = api.forward_body("m-unknown", batch(0))
    assert_error(await api.request("POST", forward_path("m-unknown"), json=body), 404, "not_found")
    # Another key's model is unknown too.
    theirs = await api_b.model()
    assert_error(
        await api.request("POST", forward_path(theirs), json=api.forward_body(theirs, batch(0))),
        404,
        "not_found",
    )

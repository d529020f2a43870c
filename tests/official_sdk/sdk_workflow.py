"""The checkpoint workflow through the official Weaver SDK, run in its own venv.

Reads a plan as JSON on stdin (the server comes from ``WEAVER_BASE_URL`` and
``WEAVER_API_KEY``) and prints what the SDK saw as JSON on stdout, for
``test_official_sdk.py`` to hold against the facade and the emulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from weaver import AsyncServiceClient, ServiceClient
from weaver.types import AdamParams, Datum, LoraConfig, ModelInput, TensorData


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


def datum(row: dict[str, Any]) -> Any:
    return Datum(
        model_input=ModelInput.from_ints(row["tokens"]),
        loss_fn_inputs={
            "target_tokens": TensorData(data=row["targets"], dtype="int64"),
            "weights": TensorData(data=row["weights"], dtype="float32"),
        },
    )


def train(trainer: Any, batches: list[list[dict[str, Any]]], rate: float) -> list[float]:
    losses = []
    for rows in batches:
        result = trainer.forward_backward([datum(r) for r in rows], "cross_entropy")
        losses.append(result["metrics"]["loss:sum"])
        trainer.optim_step(AdamParams(learning_rate=rate))
    return losses


async def train_async(
    trainer: Any, batches: list[list[dict[str, Any]]], rate: float
) -> list[float]:
    losses = []
    for rows in batches:
        result = await trainer.forward_backward([datum(r) for r in rows], "cross_entropy")
        losses.append(result["metrics"]["loss:sum"])
        await trainer.optim_step(AdamParams(learning_rate=rate))
    return losses


async def async_run(plan: dict[str, Any]) -> dict[str, Any]:
    """The async client: resume the facade's checkpoint, save, export and download."""
    out: dict[str, Any] = {}
    async with AsyncServiceClient() as service:
        await service.ensure_session()
        trainer = await service.create_model(
            base_model=plan["base_model"], lora_config=LoraConfig(rank=8)
        )
        await trainer.load_state_with_optimizer(plan["facade_checkpoint"])
        out["losses_from_facade_checkpoint"] = await train_async(
            trainer, plan["after"], plan["learning_rate"]
        )
        saved = await trainer.save_state(name="sdk-async", checkpoint_type="weight_and_optimizer")
        out["checkpoint"] = {"id": saved.id, "path": saved.path}
        out["listed"] = [c.path for c in await trainer.list_checkpoints()]
        artifact = await trainer.export_weights(checkpoint=saved)
        destination = Path(plan["download_dir"]) / "async"
        await service.download_weights(artifact, str(destination))
        out["artifact_id"] = artifact.id
        out["downloaded"] = files(destination)
    return out


def files(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def main() -> None:
    plan = json.load(sys.stdin)
    records = Records()
    logging.getLogger("weaver").addHandler(records)
    out: dict[str, Any] = {}
    rate = plan["learning_rate"]
    before, after = plan["before"], plan["after"]
    with ServiceClient() as service:
        service.ensure_session()
        out["supported"] = service.list_supported_models()
        trainer = service.create_model(
            base_model=plan["base_model"], lora_config=LoraConfig(rank=8)
        )
        out["model_id"] = trainer.model_id
        tokenizer = trainer.get_tokenizer()
        out["tokenized"] = tokenizer.encode(plan["text"], add_special_tokens=False)
        out["detokenized"] = tokenizer.decode(out["tokenized"])
        out["losses_before"] = train(trainer, before, rate)
        saved = trainer.save_state(name="sdk-saved", checkpoint_type="weight_and_optimizer")
        out["checkpoint"] = {"id": saved.id, "path": saved.path, "type": saved.checkpoint_type}
        out["losses_after"] = train(trainer, after, rate)
        out["listed"] = [c.path for c in trainer.list_checkpoints()]
        out["ttl_reply"] = trainer.set_checkpoint_ttl(saved, 7200)

        # Its own round trip: back to the save, then the same steps again.
        out["load"] = trainer.load_state_with_optimizer(saved)
        out["losses_resumed"] = train(trainer, after, rate)
        out["weights_only_load"] = trainer.load_state(saved.path)

        # A checkpoint the facade saved, resumed into a new model of the SDK.
        other = service.create_model(base_model=plan["base_model"], lora_config=LoraConfig(rank=8))
        other.load_state_with_optimizer(plan["facade_checkpoint"])
        out["losses_from_facade_checkpoint"] = train(other, after, rate)

        # A forward pass beside a forward-backward pass (with request metadata) on the same
        # weights, on a model created with a performance tier; then one optimizer step, which
        # must see the forward-backward's gradients only: a twin model without the forward
        # pass (and without the tier) must come out the same.
        probe, next_probe = [datum(r) for r in before[0]], [datum(r) for r in after[0]]
        tiered = service.create_model(
            base_model=plan["base_model"], lora_config=LoraConfig(rank=8), performance_tier="normal"
        )
        twin = service.create_model(base_model=plan["base_model"], lora_config=LoraConfig(rank=8))
        fb = tiered.forward_backward(probe, "cross_entropy", metadata={"step": 1})
        forward = tiered.forward(probe, "cross_entropy")
        tiered.optim_step(AdamParams(learning_rate=rate))
        twin_fb = twin.forward_backward(probe, "cross_entropy")
        twin.optim_step(AdamParams(learning_rate=rate))
        out["forward"] = {
            "loss": forward["metrics"]["loss:sum"],
            "logprobs": [o["logprobs"]["data"] for o in forward["loss_fn_outputs"]],
            "fb_loss": fb["metrics"]["loss:sum"],
            "fb_logprobs": [o["logprobs"]["data"] for o in fb["loss_fn_outputs"]],
            "twin_fb_loss": twin_fb["metrics"]["loss:sum"],
            "next_loss": tiered.forward(next_probe, "cross_entropy")["metrics"]["loss:sum"],
            "twin_next_loss": twin.forward(next_probe, "cross_entropy")["metrics"]["loss:sum"],
        }

        artifact = trainer.export_weights(checkpoint=saved)
        out["artifact"] = {"id": artifact.id, "kind": artifact.kind, "uri": artifact.uri}
        again = trainer.export_weights(checkpoint=saved)
        out["export_again_id"] = again.id
        one_step = trainer.export_weights()
        out["one_step_artifact"] = {"id": one_step.id, "kind": one_step.kind}
        destination = Path(plan["download_dir"]) / "sync"
        service.download_weights(artifact, str(destination))
        out["downloaded"] = files(destination)
    out["async"] = asyncio.run(async_run(plan))
    out["warnings"] = records.lines
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

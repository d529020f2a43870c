"""A real emulator process killed with SIGKILL amid a stream of saves, then restarted."""

from __future__ import annotations

import hashlib
import signal
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.support.emulator import API, Api, Json, assert_error, batch, spawn_emulator
from weaver_facade import (
    Artifact,
    ModelStateLostError,
    NotFoundError,
    OperationFailedError,
    ServiceClient,
    datum_from_tokens,
)
from weaver_facade.emulator import run_emulator

KEY = "restart-tenant-key-0a9f"


def files_by_checkpoint(data_dir: Path, checkpoint_ids: set[str]) -> dict[str, list[Path]]:
    """Every file under the data dir that belongs to a checkpoint, by checkpoint id."""
    out: dict[str, list[Path]] = {}
    for path in sorted(data_dir.rglob("*")):
        owner = next((cid for cid in checkpoint_ids if cid in str(path)), None)
        if path.is_file() and owner is not None:
            out.setdefault(owner, []).append(path)
    return out


def sha256_of(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


async def test_sigkill_mid_stream_of_saves_then_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = ("--data-dir", str(data_dir), "--api-key", KEY, "--latency", "save_checkpoint=0.05")

    first = spawn_emulator(*args)
    try:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
            api = Api(client, KEY)
            model_id = await api.model(seed=4)
            for i in range(2):
                await api.step(model_id, batch(i))
            base = await api.save(model_id, "weight_and_optimizer", name="base")
            loss_after_base = (await api.forward_backward(model_id, batch(2)))["metrics"][
                "loss:sum"
            ]

            stream = [
                await api.submit_save(model_id, "weight", name=f"stream-{i}") for i in range(60)
            ]
            queued_fb = await api.submit_fb(model_id, batch(3))
            await api.wait(stream[2])
            before = (await api.checkpoints(model_id))["items"]
    finally:
        first.stop(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL

    completed: dict[str, Json] = {c["id"]: c for c in before if c["status"] == "completed"}
    pending_ids = {c["id"] for c in before if c["status"] == "pending"}
    assert base["id"] in completed
    assert len(completed) >= 4, "some saves of the stream had finished"
    assert pending_ids, "and others had not"
    all_ids = set(completed) | pending_ids
    hashes_before = {
        cid: sha256_of(paths) for cid, paths in files_by_checkpoint(data_dir, all_ids).items()
    }
    for cid, ckpt in completed.items():
        assert hashes_before[cid] == ckpt["sha256"]

    second = spawn_emulator(*args)
    try:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as client:
            api = Api(client, KEY)
            after = (await api.checkpoints(model_id))["items"]
            survivors = {c["id"]: c for c in after}
            assert all(c["status"] == "completed" for c in after)
            # Completed checkpoints survive byte for byte.
            assert set(completed) <= set(survivors)
            for cid, ckpt in completed.items():
                assert survivors[cid]["sha256"] == ckpt["sha256"]
                assert survivors[cid]["size_bytes"] == ckpt["size_bytes"]
            files_after = files_by_checkpoint(data_dir, all_ids)
            for cid in survivors:
                assert sha256_of(files_after[cid]) == survivors[cid]["sha256"]
            for cid in completed:
                assert sha256_of(files_after[cid]) == hashes_before[cid]

            # Saves cut off by the kill failed, and their partial files are gone.
            failed = 0
            for cid in pending_ids - set(survivors):
                reply = await api.ok("GET", f"/checkpoints/{cid}")
                assert reply["status"] == "failed"
                assert cid not in files_after
                failed += 1
            assert failed > 0
            assert set(files_after) == set(survivors)
            leftovers = [
                p for p in data_dir.rglob("*") if p.is_file() and p.suffix in (".tmp", ".partial")
            ]
            assert leftovers == []

            # Operations that were pending or running are errors that say why.
            interrupted = 0
            for op in [*stream, queued_fb]:
                final = await api.ok("GET", f"/operations/{op['id']}")
                assert final["status"] in ("done", "error")
                if final["status"] == "error":
                    assert final["error_code"] == "interrupted"
                    assert "restart" in final["error_message"]
                    interrupted += 1
            assert interrupted > 0
            assert (await api.ok("GET", f"/operations/{queued_fb['id']}"))["status"] == "error"

            # The model's in-memory state is lost, and it says so instead of training from scratch.
            model = await api.ok("GET", f"/models/{model_id}")
            assert model["status"] == "state_lost"
            api.seq[model_id] = 100
            for method, path, body in (
                (
                    "POST",
                    f"/models/{model_id}/forward-backward-passes",
                    api.fb_body(model_id, batch(5)),
                ),
                ("POST", f"/models/{model_id}/optimizer-steps", api.optim_body(model_id)),
                ("POST", f"/models/{model_id}/checkpoints", {"type": "weight"}),
            ):
                refused = await api.request(method, path, json=body)
                assert_error(refused, 409, "model_state_lost", model_id)

            # A new model picks up where the old one was saved, bit for bit.
            api.model_seq = 10
            fresh = await api.model(seed=4)
            loaded = await api.load(fresh, base["path"], include_optimizer=True)
            assert loaded["optimizer_step"] == 2
            resumed = (await api.forward_backward(fresh, batch(2)))["metrics"]["loss:sum"]
            assert resumed == loss_after_base
            await api.step(fresh, batch(3))
            streamed = next(c for c in after if c["name"].startswith("stream-"))
            await api.load(fresh, streamed["path"], include_optimizer=False)
    finally:
        code = second.stop()
    assert code == 128 + signal.SIGTERM, code
    assert KEY not in first.output() + second.output()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_an_interrupted_operation_says_what_to_do_after_the_restart(
    tmp_path: Path, sig: signal.Signals
) -> None:
    # Every operation a restart cut off said "the model's in-memory training state was
    # lost", an export of a saved checkpoint too, which needs no model state: export it
    # again. Nor did a training step's say how to go on, as the model's 409 does.
    args = (
        "--data-dir",
        str(tmp_path / "data"),
        "--api-key",
        KEY,
        "--latency",
        "export_checkpoint=60",
        "--latency",
        "forward_backward=60",
    )
    first = spawn_emulator(*args)
    try:
        with ServiceClient(first.base_url, KEY) as service:
            trainer = service.create_training_client("weaver-tiny", keep=True)
            checkpoint = trainer.save_state("kept")
            export = trainer.export_weights(checkpoint, wait=False)
            step = trainer.forward_backward([datum_from_tokens([1, 2, 3])], wait=False)
    finally:
        first.stop(sig)
    second = spawn_emulator(*args)
    try:
        with httpx.Client(base_url=second.base_url + API, headers={"X-WEAVER-API-KEY": KEY}) as c:
            exported = c.get(f"/operations/{export.id}").json()
            stepped = c.get(f"/operations/{step.id}").json()
    finally:
        second.stop()
    assert_says_what_to_do(exported, stepped)


def test_an_operation_a_stop_interrupts_says_what_to_do(tmp_path: Path) -> None:
    # A stop that lets the emulator close fails the operations under way itself, which
    # said only "the server is shutting down".
    _, export_id, step_id = _stopped_under_an_export_and_a_step(tmp_path)
    with (
        run_emulator(tmp_path, api_keys=(KEY,)) as second,
        httpx.Client(base_url=second.base_url + API, headers={"X-WEAVER-API-KEY": KEY}) as c,
    ):
        exported = c.get(f"/operations/{export_id}").json()
        stepped = c.get(f"/operations/{step_id}").json()
    assert_says_what_to_do(exported, stepped)


def test_the_facade_adds_no_advice_the_emulator_gives_already(tmp_path: Path) -> None:
    # The facade advises a new model and a checkpoint loaded into it where the server's
    # message does not say so (the real service's need not): the emulator's does, and the
    # errors say it once.
    model_id, export_id, step_id = _stopped_under_an_export_and_a_step(tmp_path)
    with (
        run_emulator(tmp_path, api_keys=(KEY,)) as second,
        ServiceClient(second.base_url, KEY) as s,
    ):
        with pytest.raises(OperationFailedError) as stepped:
            s.operation(step_id).result()
        with pytest.raises(OperationFailedError) as exported:
            s.operation(export_id, Artifact).result()
        with pytest.raises(ModelStateLostError) as lost:
            s.training_client(model_id).optim_step()
    for caught in (stepped, exported, lost):
        assert getattr(caught.value, "__notes__", []) == []
    assert "create a new model and load a checkpoint into it" in str(stepped.value)
    assert "export the checkpoint again" in str(exported.value)
    assert "create a new model and load a checkpoint into it" in str(lost.value)


def _stopped_under_an_export_and_a_step(tmp_path: Path) -> tuple[str, str, str]:
    """An emulator stopped (and let close) with an export and a step of a model under way:
    the model's id, the export's and the step's operation ids."""
    latency = {"export_checkpoint": 60, "forward_backward": 60}
    with (
        run_emulator(tmp_path, api_keys=(KEY,), latency=latency) as first,
        ServiceClient(first.base_url, KEY) as service,
    ):
        trainer = service.create_training_client("weaver-tiny", keep=True)
        export = trainer.export_weights(trainer.save_state("kept"), wait=False)
        step = trainer.forward_backward([datum_from_tokens([1, 2, 3])], wait=False)
    return trainer.model_id, export.id, step.id


def assert_says_what_to_do(exported: Json, stepped: Json) -> None:
    assert (exported["status"], exported["error_code"]) == ("error", "interrupted")
    assert "training state" not in exported["error_message"]
    assert "export the checkpoint again" in exported["error_message"]
    assert (stepped["status"], stepped["error_code"]) == ("error", "interrupted")
    assert "create a new model and load a checkpoint into it" in stepped["error_message"]


def test_a_model_an_emulator_in_memory_forgot_on_restart_says_so() -> None:
    # Restarted without a data dir, the emulator knows none of the models of before: each
    # call of a client that held one got a bare `model ... not found`.
    with run_emulator(api_keys=(KEY,)) as first:
        service = ServiceClient(first.base_url, KEY, heartbeat_interval=0)
        trainer = service.create_training_client("weaver-tiny")
        trainer.forward_backward([datum_from_tokens([1, 2, 3])])
    port = urllib.parse.urlsplit(first.base_url).port
    with run_emulator(api_keys=(KEY,), port=port or 0) as second, service:
        assert second.base_url == first.base_url
        with pytest.raises(NotFoundError) as saved:
            trainer.save_state("after")
        with pytest.raises(NotFoundError) as stepped:
            trainer.forward_backward([datum_from_tokens([1, 2, 3])])
    for caught in (saved, stepped):
        assert f"model {trainer.model_id} not found" in str(caught.value)  # the server's
        notes = getattr(caught.value, "__notes__", [])
        assert [n for n in notes if "may have restarted without its state" in n], notes

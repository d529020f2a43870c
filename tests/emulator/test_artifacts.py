"""Exports: PEFT adapters, merged and full models, sharding, idempotency, progress, TTL."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette

from tests.emulator.artifact_support import (
    checkpoint_tensors,
    download_all,
    export,
    exported,
    fetch,
    log_softmax,
    read_json,
    tensors,
    trained_checkpoint,
)
from tests.emulator.full_disk import FullDisk, used
from tests.support.emulator import (
    KEY_A,
    KEY_B,
    Api,
    AppFactory,
    FakeClock,
    Json,
    assert_error,
    batch,
)
from weaver_facade._spec_schema import spec_schemas

PREFIX = "base_model.model.lm_head"


def _api(app: Starlette, key: str = KEY_A) -> tuple[httpx.AsyncClient, Api]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=60
    )
    return client, Api(client, key)


async def test_a_lora_export_is_a_peft_adapter_of_the_checkpoint(
    api: Api, data_dir: Path, tmp_path: Path
) -> None:
    ckpt = await trained_checkpoint(api, rank=4)
    artifact = await exported(api, ckpt["id"])
    assert artifact["kind"] == "hf_adapter"
    assert artifact["checkpoint_id"] == ckpt["id"]
    assert artifact["uri"] == f"{ckpt['path']}/artifacts/hf_adapter"
    names = [f["name"] for f in artifact["manifest"]["files"]]
    assert names == ["adapter_config.json", "adapter_model.safetensors"]
    files = await download_all(api, artifact["id"], tmp_path)

    config = read_json(files["adapter_config.json"])
    assert config["peft_type"] == "LORA"
    assert config["r"] == 4
    assert config["lora_alpha"] == 4  # the trainer's update is A @ B, unscaled
    assert config["target_modules"] == ["lm_head"]
    assert config["base_model_name_or_path"] == "weaver-tiny"

    adapter = tensors(files["adapter_model.safetensors"])
    assert set(adapter) == {f"{PREFIX}.lora_A.weight", f"{PREFIX}.lora_B.weight"}
    stored = checkpoint_tensors(data_dir, ckpt["id"])  # d x r and r x V, as trained
    lora_a, lora_b = adapter[f"{PREFIX}.lora_A.weight"], adapter[f"{PREFIX}.lora_B.weight"]
    assert lora_a.shape == (4, 16)  # [r, in]
    assert lora_b.shape == (256, 4)  # [out, r]
    assert lora_a.dtype == np.float32
    np.testing.assert_array_equal(lora_a, stored["lora.A"].T)
    np.testing.assert_array_equal(lora_b, stored["lora.B"].T)
    assert np.abs(lora_b).max() > 0, "training moved B away from its zero init"


async def test_the_merged_model_is_the_base_plus_the_scaled_adapter_product(
    api: Api, tmp_path: Path
) -> None:
    # The base weights, over the wire: a fresh LoRA model's B is zero, so its merge is the base.
    fresh = await api.model(rank=4, seed=3)
    base_artifact = await exported(api, (await api.save(fresh, "weight"))["id"], merge_adapter=True)
    for sub in ("base", "adapter", "merged"):
        (tmp_path / sub).mkdir()
    base = tensors(
        (await download_all(api, base_artifact["id"], tmp_path / "base"))["model.safetensors"]
    )

    model_id = await api.model(rank=4, seed=3)
    for i in range(3):
        await api.step(model_id, batch(i))
    ckpt = await api.save(model_id, "weight")
    adapter_files = await download_all(
        api, (await exported(api, ckpt["id"]))["id"], tmp_path / "adapter"
    )
    merged_artifact = await exported(api, ckpt["id"], merge_adapter=True)
    assert merged_artifact["kind"] == "hf_model"
    merged_files = await download_all(api, merged_artifact["id"], tmp_path / "merged")
    assert set(merged_files) == {"config.json", "model.safetensors"}
    merged = tensors(merged_files["model.safetensors"])
    adapter = tensors(adapter_files["adapter_model.safetensors"])
    config = read_json(adapter_files["adapter_config.json"])
    scale = config["lora_alpha"] / config["r"]

    expected = base["lm_head.weight"] + scale * (
        adapter[f"{PREFIX}.lora_B.weight"] @ adapter[f"{PREFIX}.lora_A.weight"]
    )
    assert merged["lm_head.weight"].shape == (256, 16)
    np.testing.assert_allclose(merged["lm_head.weight"], expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(merged["lm_head.weight"], base["lm_head.weight"])
    np.testing.assert_array_equal(
        merged["model.embed_tokens.weight"], base["model.embed_tokens.weight"]
    )
    model_config = read_json(merged_files["config.json"])
    assert (model_config["vocab_size"], model_config["hidden_size"]) == (256, 16)

    # And the merged weights are what the trainer computes with: its logprobs on new data.
    data = batch(7)
    result = await api.forward_backward(model_id, data)
    embed = merged["model.embed_tokens.weight"].astype(np.float64)
    head = merged["lm_head.weight"].astype(np.float64)
    for datum, output in zip(data, result["loss_fn_outputs"], strict=True):
        tokens = datum["model_input"]["chunks"][0]["tokens"]
        targets = datum["loss_fn_inputs"]["target_tokens"]["data"]
        logp = log_softmax(embed[tokens] @ head.T)[np.arange(len(targets)), targets]
        np.testing.assert_allclose(output["logprobs"]["data"], logp, rtol=1e-4, atol=1e-4)


async def test_a_full_ft_export_is_the_full_weights_and_refuses_a_merge(
    api: Api, data_dir: Path, tmp_path: Path
) -> None:
    ckpt = await trained_checkpoint(api, mode="full_ft")
    response = await api.request(
        "POST",
        f"/checkpoints/{ckpt['id']}/export",
        json={"format": "huggingface", "merge_adapter": True},
    )
    assert_error(response, 422, "merge_not_supported", "full_ft")
    artifact = await exported(api, ckpt["id"])
    assert artifact["kind"] == "hf_model"
    files = await download_all(api, artifact["id"], tmp_path)
    model = tensors(files["model.safetensors"])
    stored = checkpoint_tensors(data_dir, ckpt["id"])
    np.testing.assert_array_equal(model["model.embed_tokens.weight"], stored["embedding"])
    np.testing.assert_array_equal(model["lm_head.weight"], stored["unembedding"].T)


async def test_a_model_over_the_shard_limit_is_sharded_with_a_consistent_index(
    make_app: AppFactory, tmp_path: Path
) -> None:
    client, api = _api(make_app(shard_size=20_000))  # each weaver-tiny tensor is 16,384 bytes
    async with client:
        ckpt = await trained_checkpoint(api)
        artifact = await exported(api, ckpt["id"], merge_adapter=True)
        files = await download_all(api, artifact["id"], tmp_path)
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    assert sorted(files) == sorted(["config.json", "model.safetensors.index.json", *shards])
    index = read_json(files["model.safetensors.index.json"])
    found: dict[str, str] = {}
    total = 0
    for shard in shards:
        loaded = tensors(files[shard])
        assert sum(t.nbytes for t in loaded.values()) <= 20_000
        for name, tensor in loaded.items():
            found[name] = shard
            total += tensor.nbytes
    assert index["weight_map"] == found
    assert set(found) == {"model.embed_tokens.weight", "lm_head.weight"}
    assert index["metadata"]["total_size"] == total
    assert artifact["size_bytes"] == sum(p.stat().st_size for p in files.values())


async def test_an_identical_export_answers_200_and_force_replaces_it(api: Api) -> None:
    ckpt = await trained_checkpoint(api)
    first = await exported(api, ckpt["id"])
    again = await export(api, ckpt["id"], 200)
    assert again == first
    assert again["kind"] == "hf_adapter"
    # Another kind of the same checkpoint is another artifact.
    merged = await exported(api, ckpt["id"], merge_adapter=True)
    assert merged["id"] != first["id"]
    old_descriptor = await api.ok("GET", f"/artifacts/{first['id']}/download")

    forced = await exported(api, ckpt["id"], force=True)
    assert forced["id"] != first["id"]
    assert forced["kind"] == "hf_adapter"
    assert (await export(api, ckpt["id"], 200))["id"] == forced["id"]
    assert_error(await api.request("GET", f"/artifacts/{first['id']}"), 404, "not_found")
    assert (await fetch(api.client, old_descriptor["files"][0]["url"])).status_code == 404
    listed = await api.ok("GET", f"/checkpoints/{ckpt['id']}/artifacts")
    assert [a["id"] for a in listed["items"]] == [merged["id"], forced["id"]]


async def test_a_forced_export_removes_the_old_files_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Freeing a GB's blocks takes most of a second, in which no other request is answered.
    ckpt = await trained_checkpoint(api)
    first = await exported(api, ckpt["id"])
    removed = threading.Event()
    on_loop: list[bool] = []
    real_rmtree = shutil.rmtree

    def rmtree(path: Path, **kwargs: Any) -> None:
        if Path(path).name.split(".")[0] == first["id"]:
            try:
                asyncio.get_running_loop()
                on_loop.append(True)
            except RuntimeError:
                on_loop.append(False)
        real_rmtree(path, **kwargs)
        if Path(path).name.split(".")[0] == first["id"]:
            removed.set()

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    await exported(api, ckpt["id"], force=True)
    assert removed.wait(10), "the replaced export's files are removed"
    assert on_loop == [False], "removed on the event loop"


async def test_a_running_export_is_joined_and_cannot_be_forced(
    make_app: AppFactory, clock: FakeClock
) -> None:
    client, api = _api(make_app(latency={"export_checkpoint": 1.0}))
    async with client:
        ckpt = await trained_checkpoint(api)
        op = await export(api, ckpt["id"])
        joined = await export(api, ckpt["id"])
        assert joined["id"] == op["id"]
        response = await api.request(
            "POST",
            f"/checkpoints/{ckpt['id']}/export",
            json={"format": "huggingface", "force": True},
        )
        assert_error(response, 409, "export_in_progress")
        listed = await api.ok("GET", f"/checkpoints/{ckpt['id']}/artifacts")
        (pending,) = listed["items"]
        assert pending["status"] == "pending"
        # A pending artifact fits the spec too: with `size_bytes` made non-nullable in
        # openapi.yaml, the emulator still sent null here, and every test stayed green.
        problems = spec_schemas().component("ArtifactList").iter_errors(listed)
        assert [f"{list(e.absolute_path)}: {e.message}" for e in problems] == []
        assert_error(
            await api.request("GET", f"/artifacts/{pending['id']}/download"),
            409,
            "artifact_not_ready",
        )
        await api.done(op)


async def test_conversion_progress_is_reported_while_the_export_runs(
    make_app: AppFactory,
) -> None:
    client, api = _api(make_app(latency={"export_checkpoint": 3.0}, shard_size=20_000))
    async with client:
        ckpt = await trained_checkpoint(api)
        op = await export(api, ckpt["id"], merge_adapter=True)
        assert op["kind"] == "export_checkpoint"
        seen: list[Json] = []
        for _ in range(400):
            current = await api.ok("GET", f"/operations/{op['id']}")
            if current["status"] in ("done", "error"):
                break
            assert current["kind"] not in ("hf_model", "hf_adapter")
            if current["status"] == "running":
                seen.append(current["metadata"]["conversion_progress"])
            await asyncio.sleep(0.02)
        assert current["status"] == "done", current
        assert "metadata" not in current
    assert seen, "the export was seen running"
    assert any(p["shards_done"] >= 1 and p["bytes_done"] > 0 for p in seen), seen
    # The totals (an extension) appear once the conversion has planned its files.
    planned = [p for p in seen if "shards_total" in p]
    assert planned
    assert all(p["shards_total"] == 2 for p in planned)
    done = [(p["shards_done"], p["bytes_done"]) for p in seen]
    assert done == sorted(done), "progress never goes back"
    assert max(p["bytes_done"] for p in seen) <= planned[0]["bytes_total"]


async def test_artifacts_expire_with_their_ttl(api: Api, clock: FakeClock, data_dir: Path) -> None:
    ckpt = await trained_checkpoint(api)
    short = await exported(api, ckpt["id"], ttl_seconds=100)
    assert short["ttl_seconds"] == 100
    files = data_dir / "artifacts" / short["id"]
    assert files.is_dir()
    descriptor = await api.ok("GET", f"/artifacts/{short['id']}/download")
    clock.advance(101)
    assert_error(await api.request("GET", f"/artifacts/{short['id']}"), 404, "not_found")
    assert_error(await api.request("GET", f"/artifacts/{short['id']}/download"), 404, "not_found")
    assert (await api.ok("GET", f"/checkpoints/{ckpt['id']}/artifacts"))["items"] == []
    assert (await fetch(api.client, descriptor["files"][0]["url"])).status_code == 404
    assert not files.exists()
    # Expired, it no longer blocks a new export of the same kind.
    default = await exported(api, ckpt["id"])
    assert default["ttl_seconds"] == 604800
    created = np.datetime64(default["created_at"].rstrip("Z"))
    expires = np.datetime64(default["expires_at"].rstrip("Z"))
    assert (expires - created) == np.timedelta64(604800, "s")


async def test_a_null_ttl_follows_the_checkpoint(api: Api, clock: FakeClock) -> None:
    model_id = await api.model()
    await api.step(model_id, batch())
    ckpt = await api.save(model_id, "weight", ttl_seconds=500)
    artifact = await exported(api, ckpt["id"], ttl_seconds=None)
    assert artifact["ttl_seconds"] is None
    assert artifact["expires_at"] == ckpt["expires_at"]
    permanent = await api.save(model_id, "weight", ttl_seconds=None)
    assert (await exported(api, permanent["id"], ttl_seconds=None))["expires_at"] is None


async def test_an_artifact_outlives_its_checkpoint_and_can_be_deleted(
    api: Api, data_dir: Path, tmp_path: Path
) -> None:
    ckpt = await trained_checkpoint(api)
    artifact = await exported(api, ckpt["id"])
    await api.ok("DELETE", f"/checkpoints/{ckpt['id']}")
    # The checkpoint's collection went with it; the artifact is still there, by id.
    gone = await api.request("GET", f"/checkpoints/{ckpt['id']}/artifacts")
    assert_error(gone, 404, "not_found")
    assert (await api.ok("GET", f"/artifacts/{artifact['id']}"))["status"] == "completed"
    await download_all(api, artifact["id"], tmp_path)
    descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")

    deleted = await api.ok("DELETE", f"/artifacts/{artifact['id']}")
    assert deleted["status"] == "deleted"
    assert not (data_dir / "artifacts" / artifact["id"]).exists()
    assert_error(await api.request("DELETE", f"/artifacts/{artifact['id']}"), 404, "not_found")
    assert (await fetch(api.client, descriptor["files"][0]["url"])).status_code == 404
    # The checkpoint is gone, so nothing can be exported from it any more.
    assert_error(await export_response(api, ckpt["id"]), 404, "not_found")


async def export_response(api: Api, checkpoint_id: str) -> httpx.Response:
    return await api.request(
        "POST", f"/checkpoints/{checkpoint_id}/export", json={"format": "huggingface"}
    )


async def test_export_hf_saves_the_current_weights_then_exports_them(
    api: Api, data_dir: Path, tmp_path: Path
) -> None:
    model_id = await api.model(rank=4)
    await api.step(model_id, batch())
    op = await api.ok("POST", f"/models/{model_id}/export-hf", 202, json={"format": "huggingface"})
    assert op["kind"] == "export_model_weights"
    artifact = await api.done(op)
    assert artifact["kind"] == "hf_adapter"
    ckpt = await api.ok("GET", f"/checkpoints/{artifact['checkpoint_id']}")
    assert ckpt["status"] == "completed"
    assert ckpt["type"] == "weight"
    assert artifact["uri"] == f"{ckpt['path']}/artifacts/hf_adapter"
    files = await download_all(api, artifact["id"], tmp_path)
    adapter = tensors(files["adapter_model.safetensors"])
    stored = checkpoint_tensors(data_dir, ckpt["id"])
    np.testing.assert_array_equal(adapter[f"{PREFIX}.lora_B.weight"], stored["lora.B"].T)
    # The body has no force.
    response = await api.request(
        "POST", f"/models/{model_id}/export-hf", json={"format": "huggingface", "force": True}
    )
    assert_error(response, 400, "invalid_request", "force")


async def test_export_errors_name_the_problem(make_app: AppFactory) -> None:
    client, api = _api(make_app(latency={"save_checkpoint": 1.0}))
    async with client:
        unknown = "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09"
        assert_error(await export_response(api, unknown), 404, "not_found", unknown)
        assert_error(
            await api.request("GET", f"/checkpoints/{unknown}/artifacts"), 404, "not_found"
        )
        assert_error(await api.request("GET", f"/artifacts/{unknown}/download"), 404, "not_found")
        assert_error(await export_response(api, "not-a-uuid"), 400, "invalid_request")
        model_id = await api.model()
        pending = await api.submit_save(model_id, "weight")
        (ckpt,) = (await api.checkpoints(model_id))["items"]
        assert_error(await export_response(api, ckpt["id"]), 409, "checkpoint_not_ready")
        await api.done(pending)
        bad = await api.request("POST", f"/checkpoints/{ckpt['id']}/export", json={})
        assert_error(bad, 400, "invalid_request", "format")
        wrong = await api.request(
            "POST", f"/checkpoints/{ckpt['id']}/export", json={"format": "gguf"}
        )
        assert_error(wrong, 400, "invalid_request", "format")
        artifact = await exported(api, ckpt["id"])
        # Another tenant sees none of it.
        other = Api(client, KEY_B)
        assert_error(await export_response(other, ckpt["id"]), 404, "not_found")
        assert_error(
            await other.request("GET", f"/artifacts/{artifact['id']}/download"), 404, "not_found"
        )


@pytest.mark.parametrize("mode", ["lora", "full_ft"])
async def test_operations_never_carry_an_artifact_kind(api: Api, mode: str) -> None:
    ckpt = await trained_checkpoint(api, mode=mode)
    op = await export(api, ckpt["id"])
    final = await api.wait(op)
    assert op["kind"] == final["kind"] == "export_checkpoint"
    assert final["response"]["kind"] in ("hf_model", "hf_adapter")


async def test_an_artifact_delete_makes_room_on_a_full_disk(
    app: Starlette, api: Api, data_dir: Path
) -> None:
    """On a full disk an artifact's delete was answered 500, its record refused: the
    largest files could not be deleted through the API to free space."""
    ckpt = await trained_checkpoint(api)
    artifact = await exported(api, ckpt["id"])
    store = app.state.emulator.store
    full = FullDisk(store._conn, data_dir, room=used(data_dir) - 1)
    store._conn = full
    try:
        deleted = await api.request("DELETE", f"/artifacts/{artifact['id']}")
        assert deleted.status_code == 200, deleted.text
    finally:
        store._conn = full.conn
    assert full.refused == 1, "the delete's first record"
    assert deleted.json()["status"] == "deleted"
    assert not (data_dir / "artifacts" / artifact["id"]).exists()
    assert_error(await api.request("GET", f"/artifacts/{artifact['id']}"), 404, "not_found")
    assert (await api.ok("GET", f"/checkpoints/{ckpt['id']}"))["status"] == "completed"


async def test_an_artifact_delete_on_a_disk_still_full_leaves_it_unlisted(
    make_app: AppFactory, app: Starlette, api: Api, data_dir: Path
) -> None:
    """As a checkpoint's: the files gone, the artifact was still listed and exported."""
    ckpt = await trained_checkpoint(api)
    artifact = await exported(api, ckpt["id"])
    store = app.state.emulator.store
    store._conn = full = FullDisk(store._conn, data_dir, room=0)
    try:
        deleted = await api.request("DELETE", f"/artifacts/{artifact['id']}")
        assert deleted.status_code == 200, deleted.text
        assert_error(await api.request("GET", f"/artifacts/{artifact['id']}"), 404, "not_found")
        listed = await api.ok("GET", f"/checkpoints/{ckpt['id']}/artifacts")
        assert listed["items"] == []
    finally:
        store._conn = full.conn
    assert full.refused == 2, "the delete's record, before and after its files went"
    assert not (data_dir / "artifacts" / artifact["id"]).exists()
    # Not the deleted one: a new export.
    again = await exported(api, ckpt["id"])
    assert again["id"] != artifact["id"]
    app.state.emulator.close()
    after = make_app().state.emulator.store
    rows = after.all("SELECT id, status FROM artifacts")
    assert {r["id"]: r["status"] for r in rows} == {
        artifact["id"]: "deleted",
        again["id"]: "completed",
    }

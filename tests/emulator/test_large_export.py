"""weaver-large: a merged export over 1 GiB, sharded, streamed over real HTTP (slow)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from safetensors import safe_open

from tests.emulator.artifact_support import exported, read_json
from tests.support.emulator import KEY_A, Api, batch
from weaver_facade.emulator import run_emulator

pytestmark = pytest.mark.slow

PREFIX = "base_model.model.lm_head"


async def _stream_to(client: httpx.AsyncClient, item: dict[str, object], path: Path) -> None:
    digest = hashlib.sha256()
    written = 0
    with path.open("wb") as f:
        async with client.stream("GET", str(item["url"])) as response:
            assert response.status_code == 200
            assert int(response.headers["content-length"]) == item["size"]
            async for chunk in response.aiter_raw(1024 * 1024):
                digest.update(chunk)
                written += f.write(chunk)
    assert written == item["size"]
    assert digest.hexdigest() == item["sha256"]


async def test_a_merged_weaver_large_export_is_over_a_gib_and_correct(tmp_path: Path) -> None:
    with run_emulator(tmp_path / "data", api_keys=(KEY_A,), shard_size=600_000_000) as emu:
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=120) as client:
            api = Api(client, KEY_A)
            model_id = await api.model(base_model="weaver-large", rank=8)
            await api.step(model_id, batch(0, vocab=151936))
            ckpt = await api.save(model_id, "weight")
            adapter = await exported(api, ckpt["id"])
            merged = await exported(api, ckpt["id"], merge_adapter=True)
            assert merged["size_bytes"] >= 2**30
            for artifact, sub in ((adapter, "adapter"), (merged, "merged")):
                (tmp_path / sub).mkdir()
                descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")
                for item in descriptor["files"]:
                    await _stream_to(client, item, tmp_path / sub / item["name"])
    merged_dir, adapter_dir = tmp_path / "merged", tmp_path / "adapter"
    index = read_json(merged_dir / "model.safetensors.index.json")
    assert sorted(set(index["weight_map"].values())) == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    with safe_open(adapter_dir / "adapter_model.safetensors", framework="numpy") as f:
        lora_a = f.get_tensor(f"{PREFIX}.lora_A.weight")
        lora_b = f.get_tensor(f"{PREFIX}.lora_B.weight")
    with safe_open(merged_dir / index["weight_map"]["lm_head.weight"], framework="numpy") as f:
        head = f.get_slice("lm_head.weight")
        rows = [0, 1, 77_777, 151_935]
        merged_rows = np.stack([head[r : r + 1][0] for r in rows])
    from weaver_facade.emulator._base_models import base_weights

    _, w = base_weights("weaver-large")  # d x V, as the trainer uses it
    expected = w[:, rows].T + lora_b[rows] @ lora_a
    np.testing.assert_allclose(merged_rows, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(lora_b).max() > 0

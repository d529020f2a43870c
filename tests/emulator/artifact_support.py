"""Helpers for the artifact tests: export over the wire, fetch storage URLs without a key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import safetensors.numpy

from tests.support.emulator import Api, Json, batch

EXPORT: Json = {"format": "huggingface"}


async def trained_checkpoint(
    api: Api, *, mode: str = "lora", rank: int = 4, steps: int = 2
) -> Json:
    """A weaver-tiny model trained a few steps and saved; returns the checkpoint."""
    model_id = await api.model(mode=mode, rank=rank, seed=3)
    for i in range(steps):
        await api.step(model_id, batch(i))
    return await api.save(model_id, "weight")


async def export(api: Api, checkpoint_id: str, status: int = 202, **body: Any) -> Json:
    return await api.ok(
        "POST", f"/checkpoints/{checkpoint_id}/export", status, json={**EXPORT, **body}
    )


async def exported(api: Api, checkpoint_id: str, **body: Any) -> Json:
    """Export and wait: the completed artifact."""
    artifact = await api.done(await export(api, checkpoint_id, **body))
    assert artifact["status"] == "completed", artifact
    return artifact


async def fetch(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    """A storage GET as a download client sends it: no API key."""
    return await client.get(url, headers=headers)


async def download_all(api: Api, artifact_id: str, dest: Path) -> dict[str, Path]:
    """Every file of the artifact's descriptor, fetched without the key and checked."""
    descriptor = await api.ok("GET", f"/artifacts/{artifact_id}/download")
    out: dict[str, Path] = {}
    for item in descriptor["files"]:
        response = await fetch(api.client, item["url"])
        assert response.status_code == 200, response.text
        assert int(response.headers["content-length"]) == item["size"] == len(response.content)
        assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
        path = dest / item["name"]
        path.write_bytes(response.content)
        out[item["name"]] = path
    assert sum(p.stat().st_size for p in out.values()) == descriptor["total_bytes"]
    return out


def tensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    loaded: dict[str, npt.NDArray[Any]] = safetensors.numpy.load_file(path)
    return loaded


def read_json(path: Path) -> Json:
    value: Json = json.loads(path.read_text())
    return value


def checkpoint_tensors(data_dir: Path, checkpoint_id: str) -> dict[str, npt.NDArray[Any]]:
    """The tensors the emulator stored for a checkpoint at save time."""
    return tensors(data_dir / "checkpoints" / f"{checkpoint_id}.safetensors")


def log_softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return out

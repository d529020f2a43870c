"""Artifacts across restarts: completed ones survive a SIGKILL, half-written ones never complete."""

from __future__ import annotations

import asyncio
import hashlib
import signal
from pathlib import Path

import httpx

from tests.emulator.artifact_support import exported, fetch, trained_checkpoint
from tests.support.emulator import KEY_A, Api, AppFactory, Json, batch, spawn_emulator

KEY = "artifact-restart-key-5c1e"


async def test_a_completed_artifact_and_its_urls_survive_a_restart(
    make_app: AppFactory, data_dir: Path
) -> None:
    first = make_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first), base_url="http://emulator"
    ) as client:
        api = Api(client, KEY_A)
        ckpt = await trained_checkpoint(api)
        artifact = await exported(api, ckpt["id"], merge_adapter=True)
        descriptor = await api.ok("GET", f"/artifacts/{artifact['id']}/download")
    first.state.emulator.close()

    second = make_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second), base_url="http://emulator"
    ) as client:
        api = Api(client, KEY_A)
        assert await api.ok("GET", f"/artifacts/{artifact['id']}") == artifact
        # A URL signed before the restart still opens: the signing key lives in the data dir.
        for item in descriptor["files"]:
            response = await fetch(client, item["url"])
            assert response.status_code == 200
            assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
        body = {"format": "huggingface", "merge_adapter": True}
        again = await api.ok("POST", f"/checkpoints/{ckpt['id']}/export", 200, json=body)
        assert again["id"] == artifact["id"]


async def _until_converting(api: Api, op_id: str) -> Json:
    """Poll (bounded) until the export has written part of its files."""
    for _ in range(500):
        op = await api.ok("GET", f"/operations/{op_id}")
        progress = (op.get("metadata") or {}).get("conversion_progress") or {}
        if op["status"] == "running" and progress.get("bytes_done", 0) > 0:
            return op
        assert op["status"] in ("pending", "running"), op
        await asyncio.sleep(0.02)
    raise AssertionError(f"export {op_id} never started writing")


async def test_sigkill_mid_export_then_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = (
        "--data-dir", str(data_dir), "--api-key", KEY,
        "--shard-size", "20000", "--latency", "export_model_weights=60",
    )  # fmt: skip
    first = spawn_emulator(*args)
    try:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
            api = Api(client, KEY)
            ckpt = await trained_checkpoint(api)
            done = await exported(api, ckpt["id"], merge_adapter=True)
            model_id = await api.model(rank=4)
            await api.step(model_id, batch())
            running = await api.ok(
                "POST",
                f"/models/{model_id}/export-hf",
                202,
                json={"format": "huggingface", "merge_adapter": True},
            )
            await _until_converting(api, running["id"])
            (in_flight,) = [
                a
                for c in (await api.checkpoints(model_id))["items"]
                for a in (await api.ok("GET", f"/checkpoints/{c['id']}/artifacts"))["items"]
            ]
            assert in_flight["status"] == "pending"
    finally:
        first.stop(signal.SIGKILL)
    assert first.process.returncode == -signal.SIGKILL
    staging = data_dir / "artifacts" / f"{in_flight['id']}.tmp"
    assert any(p.stat().st_size > 0 for p in staging.iterdir()), "killed half-way through"
    finished = {p.name: p.read_bytes() for p in (data_dir / "artifacts" / done["id"]).iterdir()}

    second = spawn_emulator(*args)
    try:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as client:
            api = Api(client, KEY)
            failed = await api.ok("GET", f"/artifacts/{in_flight['id']}")
            assert failed["status"] == "error"
            assert "interrupted" in failed["error"]
            op = await api.ok("GET", f"/operations/{running['id']}")
            assert (op["status"], op["error_code"]) == ("error", "interrupted")
            refused = await api.request("GET", f"/artifacts/{in_flight['id']}/download")
            assert refused.status_code == 409
            assert not staging.exists()
            assert not (data_dir / "artifacts" / in_flight["id"]).exists()
            # The completed artifact is intact, byte for byte, and downloadable.
            assert await api.ok("GET", f"/artifacts/{done['id']}") == done
            descriptor = await api.ok("GET", f"/artifacts/{done['id']}/download")
            for item in descriptor["files"]:
                response = await fetch(client, item["url"])
                assert response.content == finished[item["name"]]
                assert hashlib.sha256(response.content).hexdigest() == item["sha256"]
            # A failed artifact does not block a new export of its checkpoint.
            again = await exported(api, in_flight["checkpoint_id"], merge_adapter=True)
            assert again["id"] != in_flight["id"]
    finally:
        second.stop()

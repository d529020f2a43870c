"""The app as a whole: every spec operation routed, many event loops, reset, the wheel."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.emulator import API, KEY_A, Api, AppFactory, assert_error, batch
from tests.support.openapi import openapi

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = openapi()
PLACEHOLDERS = {
    "session_id": "s-0",
    "model_id": "m-0",
    "operation_id": "op-0",
    "checkpoint_id": "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09",
    "artifact_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
}


def safetensors_files(root: Path) -> list[Path]:
    return list(root.rglob("*.safetensors"))


OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in ("get", "post", "patch", "delete", "put")
]


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
async def test_every_operation_of_the_spec_is_served(
    api: Api, method: str, path: str, operation: dict[str, Any]
) -> None:
    missing = set(re.findall(r"\{(\w+)\}", path)) - set(PLACEHOLDERS)
    assert not missing, f"{method} {path}: give {sorted(missing)} a value in PLACEHOLDERS"
    url = path.format(**PLACEHOLDERS)
    assert url.startswith(API)
    response = await api.request(
        method, url[len(API) :], json={} if "requestBody" in operation else None
    )
    # A range (`2XX`) documents each status it covers.
    documented = {code.replace("XX", "") for code in operation["responses"]}
    status = str(response.status_code)
    assert {status, status[0]} & documented, (method, path, response.status_code, response.text)
    assert response.status_code != 405
    assert response.headers["x-request-id"]
    if response.status_code >= 400:
        # Answered by the operation (unknown id or a bad body), not by a missing route.
        assert response.json()["error"] in ("not_found", "invalid_request"), response.text
        assert "route" not in response.json()["message"]


def test_long_polls_on_several_event_loops_and_threads(make_app: AppFactory) -> None:
    """Requests may run on any loop (uvicorn, TestClient portals, user code); each is woken."""
    app = make_app(latency={"forward_backward": 0.3})

    async def submit() -> str:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://e"
        ) as c:
            api = Api(c, KEY_A)
            model_id = await api.model()
            op_id: str = (await api.submit_fb(model_id, batch()))["id"]
            return op_id

    async def poll(op_id: str) -> tuple[str, float]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://e"
        ) as c:
            started = time.monotonic()
            reply = await Api(c, KEY_A).ok("GET", f"/operations/{op_id}", params={"wait": 30})
            return reply["status"], time.monotonic() - started

    op_id = asyncio.run(submit())
    results: list[tuple[str, float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(asyncio.run(poll(op_id)))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(results) == 3
    for status, elapsed in results:
        assert status == "done"
        assert elapsed < 10, elapsed


async def test_reset_wipes_every_record_and_file(make_app: AppFactory, data_dir: Path) -> None:
    app = make_app(latency={"save_checkpoint": 0.2})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e"
    ) as client:
        api = Api(client, KEY_A)
        session_id = await api.session()
        model_id = await api.model(session_id)
        await api.step(model_id, batch())
        saved = await api.save(model_id, "weight", name="before-reset")
        running = await api.submit_save(model_id, "weight", name="in-flight")
        key = {"Idempotency-Key": "reset-key"}
        await api.ok("POST", "/sessions", 201, json={}, headers=key)

        app.state.emulator.reset()

        for path in (
            f"/sessions/{session_id}",
            f"/models/{model_id}",
            f"/checkpoints/{saved['id']}",
            f"/operations/{running['id']}",
        ):
            assert_error(await api.request("GET", path), 404, "not_found")
        # The idempotency record is gone too: the key is free for another body.
        await api.ok("POST", "/sessions", 201, json={"tags": ["new"]}, headers=key)
        # And the emulator works as new.
        fresh = await api.model()
        await api.step(fresh, batch())
        again = await api.save(fresh, "weight", name="before-reset")
        files = safetensors_files(data_dir)
        assert len(files) == 1
        assert again["id"] in files[0].name


def test_the_wheel_ships_the_spec_for_the_emulator(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("weaver_facade-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert (
            zf.read("weaver_facade/emulator/openapi.yaml") == (ROOT / "openapi.yaml").read_bytes()
        )
        assert "weaver_facade/emulator/__main__.py" in zf.namelist()
        assert "weaver_facade/cli.py" in zf.namelist()


def test_the_console_script_runs_the_emulator_command() -> None:
    script = Path(sys.executable).parent / "weaver-facade"
    assert script.exists(), "the package is installed with its console script"
    result = subprocess.run(
        [str(script), "emulator", "--help"], capture_output=True, text=True, check=True
    )
    assert "--data-dir" in result.stdout

"""Sessions, models and supported models: shapes, sequencing and their error rules."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.emulator import KEY_A, Api, AppFactory, assert_error, batch

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


async def test_session_is_created_read_and_kept_alive(api: Api) -> None:
    created = await api.ok(
        "POST",
        "/sessions",
        201,
        json={"tags": ["a", "b"], "user_metadata": {"run": "7"}, "sdk_version": "x/1"},
    )
    assert re.fullmatch(r"s-[0-9a-f]+", created["id"])
    assert created["tags"] == ["a", "b"]
    assert created["user_metadata"] == {"run": "7"}
    assert created["sdk_version"] == "x/1"
    assert RFC3339.fullmatch(created["created_at"])
    assert RFC3339.fullmatch(created["updated_at"])
    assert await api.ok("GET", f"/sessions/{created['id']}") == created

    beat = await api.ok("POST", f"/sessions/{created['id']}/heartbeat")
    assert beat["session_id"] == created["id"]
    assert RFC3339.fullmatch(beat["last_heartbeat_at"])


async def test_session_defaults_and_unknown_session(api: Api) -> None:
    created = await api.ok("POST", "/sessions", 201, json={})
    assert created["tags"] == []
    assert created["user_metadata"] == {}
    assert created["sdk_version"] is None
    assert_error(await api.request("GET", "/sessions/s-nope"), 404, "not_found", "s-nope")
    assert_error(await api.request("POST", "/sessions/s-nope/heartbeat"), 404, "not_found")


async def test_model_reply_carries_defaults_and_tokenizer(api: Api) -> None:
    session_id = await api.session()
    model = await api.ok(
        "POST",
        f"/sessions/{session_id}/models",
        201,
        json={"model_seq_id": 1, "base_model": "weaver-tiny", "user_metadata": {"k": "v"}},
    )
    assert re.fullmatch(r"m-[0-9a-f]+", model["id"])
    assert model["session_id"] == session_id
    assert model["model_seq_id"] == 1
    assert model["training_mode"] == "lora"
    lora = model["lora_config"]
    assert lora["rank"] >= 1
    assert lora["seed"] == 0
    assert lora["train_unembed"]
    assert lora["train_mlp"]
    assert lora["train_attn"]
    assert model["tokenizer_path"]
    assert model["status"] == "active"
    assert model["user_metadata"] == {"k": "v"}
    assert await api.ok("GET", f"/models/{model['id']}") == model

    full = await api.ok(
        "POST",
        f"/sessions/{session_id}/models",
        201,
        json={"model_seq_id": 2, "base_model": "weaver-tiny", "training_mode": "full_ft"},
    )
    assert full["training_mode"] == "full_ft"
    assert full["lora_config"] is None


async def test_model_seq_id_repeats_return_the_model_or_conflict(api: Api) -> None:
    session_id = await api.session()
    body = {"model_seq_id": 1, "base_model": "weaver-tiny", "lora_config": {"rank": 2}}
    first = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    again = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    assert again["id"] == first["id"]
    changed = {**body, "lora_config": {"rank": 3}}
    assert_error(
        await api.request("POST", f"/sessions/{session_id}/models", json=changed),
        409,
        "seq_id_conflict",
        "model_seq_id",
    )
    # Another session has its own counter.
    other = await api.ok("POST", f"/sessions/{await api.session()}/models", 201, json=body)
    assert other["id"] != first["id"]


async def test_a_reused_session_gets_new_models_once_its_models_ended(api: Api) -> None:
    # The official SDK counts model_seq_id (and seq_id) from 1 in every client, also in a
    # session it reuses: an ended model must not come back, nor its old operations.
    session_id = await api.session()
    body = {"model_seq_id": 1, "base_model": "weaver-tiny", "lora_config": {"rank": 2}}
    first = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    fb = api.fb_body(first["id"], batch(0), seq_id=1)
    old = await api.wait(
        await api.ok("POST", f"/models/{first['id']}/forward-backward-passes", 202, json=fb)
    )
    await api.ok("POST", f"/models/{first['id']}/terminate")

    second = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    assert second["id"] != first["id"]
    assert second["status"] == "active"
    fb = api.fb_body(second["id"], batch(0), seq_id=1)
    step = await api.ok("POST", f"/models/{second['id']}/forward-backward-passes", 202, json=fb)
    assert step["id"] != old["id"]
    assert (await api.wait(step))["status"] == "done"
    # While the new model is active, a repeat is still the same model.
    again = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    assert again["id"] == second["id"]


async def test_a_data_dir_of_an_earlier_version_lets_a_session_reuse_seq_ids(
    make_app: AppFactory, data_dir: Path
) -> None:
    body = {"model_seq_id": 1, "base_model": "weaver-tiny"}
    first_app = make_app()
    async with _client(first_app) as http:
        api = Api(http, KEY_A)
        session_id = await api.session()
        first = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    first_app.state.emulator.close()
    # Earlier versions held (session_id, model_seq_id) unique for every model, ended or not.
    with contextlib.closing(sqlite3.connect(data_dir / "weaver.db")) as db:
        (table,) = db.execute("SELECT sql FROM sqlite_master WHERE name='models'").fetchone()
        unique = "created_at REAL NOT NULL,\n    UNIQUE (session_id, model_seq_id)"
        old_table = table.replace("created_at REAL NOT NULL", unique)
        copy = "INSERT INTO models SELECT * FROM models_new; DROP TABLE models_new;"
        rename = "DROP INDEX models_seq; ALTER TABLE models RENAME TO models_new;"
        db.executescript(f"{rename} {old_table}; {copy}")

    async with _client(make_app()) as http:  # the restart ends the model: state_lost
        api = Api(http, KEY_A)
        assert (await api.ok("GET", f"/models/{first['id']}"))["status"] == "state_lost"
        second = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
        assert second["id"] != first["id"]
        assert (await api.ok("GET", f"/models/{first['id']}"))["model_seq_id"] == 1


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator")


async def test_model_creation_errors(api: Api) -> None:
    session_id = await api.session()
    path = f"/sessions/{session_id}/models"
    assert_error(
        await api.request("POST", path, json={"model_seq_id": 1, "base_model": "gpt-imaginary"}),
        422,
        "unknown_base_model",
        "gpt-imaginary",
    )
    assert_error(
        await api.request(
            "POST",
            path,
            json={
                "model_seq_id": 1,
                "base_model": "weaver-tiny",
                "training_mode": "full_ft",
                "lora_config": {"rank": 2},
            },
        ),
        400,
        "invalid_request",
        "lora_config",
    )
    supported = (await api.ok("GET", "/supported-models"))["items"]
    # The semantic cap: weaver-large-vocab allows fewer ranks than the spec's maximum of 256.
    large = next(m for m in supported if m["name"] == "weaver-large-vocab")
    max_rank = large["config"]["max_lora_rank"]
    assert max_rank < 256
    too_high = {"rank": max_rank + 1}
    assert_error(
        await api.request(
            "POST",
            path,
            json={"model_seq_id": 1, "base_model": "weaver-large-vocab", "lora_config": too_high},
        ),
        400,
        "invalid_request",
        "body.lora_config.rank",
    )
    assert_error(
        await api.request(
            "POST",
            "/sessions/s-missing/models",
            json={"model_seq_id": 1, "base_model": "weaver-tiny"},
        ),
        404,
        "not_found",
        "s-missing",
    )


async def test_supported_models_lists_small_and_large_vocabularies(api: Api) -> None:
    listing = await api.ok("GET", "/supported-models")
    by_name = {item["name"]: item for item in listing["items"]}
    assert listing["pagination"]["total_count"] == len(listing["items"]) >= 2
    tiny, large = by_name["weaver-tiny"], by_name["weaver-large-vocab"]
    assert tiny["config"]["vocab_size"] == 256
    assert large["config"]["vocab_size"] == 151936
    for item in (tiny, large):
        assert item["status"] in ("available", "healthy")
        assert item["config"]["hidden_size"] >= 1
        assert item["config"]["max_lora_rank"] >= 1
    # The emulator's capacity that README states: 4096 tokens per sequence, each model.
    assert {item["config"]["max_sequence_length"] for item in listing["items"]} == {4096}
    # The README: three base models, weaver-large of the same vocabulary and hidden size
    # 896, whose full weights (an embedding and a projection, float32) are 1.09 GB.
    assert set(by_name) == {"weaver-tiny", "weaver-large-vocab", "weaver-large"}
    big = by_name["weaver-large"]["config"]
    assert (big["vocab_size"], big["hidden_size"]) == (151936, 896)
    assert round(2 * big["vocab_size"] * big["hidden_size"] * 4 / 1e9, 2) == 1.09

    first = await api.ok("GET", "/supported-models", params={"limit": 1})
    second = await api.ok("GET", "/supported-models", params={"limit": 1, "offset": 1})
    assert len(first["items"]) == len(second["items"]) == 1
    assert first["items"][0]["name"] != second["items"][0]["name"]
    assert first["pagination"]["total_count"] == listing["pagination"]["total_count"]
    beyond = await api.ok("GET", "/supported-models", params={"offset": 1000})
    assert beyond["items"] == []


async def test_terminate_is_idempotent_and_stops_training(api: Api) -> None:
    model_id = await api.model()
    first = await api.ok("POST", f"/models/{model_id}/terminate")
    assert first["status"] == "terminated"
    second = await api.ok("POST", f"/models/{model_id}/terminate")
    assert second["status"] == "terminated"
    assert (await api.ok("GET", f"/models/{model_id}"))["status"] == "terminated"
    assert_error(
        await api.request(
            "POST", f"/models/{model_id}/forward-backward-passes", json=api.fb_body(model_id, [])
        ),
        400,  # an empty batch is malformed before anything else is looked at
        "invalid_request",
    )
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/forward-backward-passes",
            json=api.fb_body(model_id, batch()),
        ),
        409,
        "model_terminated",
        model_id,
    )
    assert_error(
        await api.request("POST", f"/models/{model_id}/checkpoints", json={"type": "weight"}),
        409,
        "model_terminated",
    )
    assert_error(await api.request("POST", "/models/m-unknown/terminate"), 404, "not_found")


async def test_terminate_does_not_wait_for_another_model_being_built(
    app: Starlette, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building a trainer takes seconds for weaver-large (1.09 GB of weights); terminate runs
    # on the event loop, which serves every other request, so it must not wait for that.
    from weaver_facade.emulator import _service, _trainer

    started, release, built = threading.Event(), threading.Event(), threading.Event()

    class SlowTrainer(_trainer.Trainer):
        def __init__(self, *args: Any) -> None:
            started.set()
            release.wait(timeout=10)  # the longest a blocked terminate could wait
            super().__init__(*args)
            built.set()

    monkeypatch.setattr(_service, "Trainer", SlowTrainer)
    building, other = await api.model(), await api.model()
    op = await api.ok(
        "POST",
        f"/models/{building}/forward-backward-passes",
        202,
        json=api.fb_body(building, batch()),
    )
    assert await asyncio.to_thread(started.wait, 30)
    terminated = await api.ok("POST", f"/models/{other}/terminate")
    still_building = not built.is_set()
    await api.ok("POST", f"/models/{building}/terminate")  # the one being built, too
    release.set()
    assert terminated["status"] == "terminated"
    assert still_building  # answered while the other model's trainer was being built
    assert (await api.wait(op))["status"] == "done"  # it had started
    # A model terminated while its trainer was built keeps none (its memory is freed).
    assert building not in app.state.emulator._trainers


async def test_terminate_cuts_the_work_of_its_models_operations_short(
    make_app: AppFactory,
) -> None:
    # An operation's artificial work (``latency``) went on after its model was terminated,
    # the running one's and then each queued one's: their waits took every latency in turn,
    # for a model that trains no more.
    app = make_app(latency={"forward_backward": 600})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=30
    ) as http:
        api = Api(http, KEY_A)
        model_id = await api.model()
        ops = [
            await api.ok(
                "POST",
                f"/models/{model_id}/forward-backward-passes",
                202,
                json=api.fb_body(model_id, batch()),
            )
            for _ in range(2)
        ]
        running = await api.ok("GET", f"/operations/{ops[0]['id']}")
        if running["status"] == "pending":  # until a worker takes it
            seen = {"wait": 10, "seen_revision": running["revision"]}
            running = await api.ok("GET", f"/operations/{ops[0]['id']}", params=seen)
        assert running["status"] == "running"
        await api.ok("POST", f"/models/{model_id}/terminate")
        for op in ops:
            ended = await api.wait(op, budget=3)  # long-polls of 10 s, far from 600
            assert (ended["status"], ended["error_code"]) == ("error", "model_terminated")

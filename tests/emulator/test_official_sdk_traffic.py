"""The official Weaver SDK's traffic, as ``weaver-wire.md`` describes it, against today's wire.

The emulator without extensions must serve the requests the official SDK sends, in the shapes
the wire sheet records (not the facade's): its headers and no idempotency key, an empty
heartbeat, `tensor_transport`, all six Adam parameters, a forward-backward re-sent with the same
`seq_id` after a read timeout, a list before every save, the default `weight` type, loads by
path, a TTL change, and a terminate whose errors it ignores.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.emulator import KEY_A, AppFactory, Json, assert_error

API = "/api/v1"
# What the official SDK sends on every request: its User-Agent and a W3C traceparent.
HEADERS = {
    "X-WEAVER-API-KEY": KEY_A,
    "User-Agent": "weaver-sdk/1.19.2",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}
ADAM = {
    "learning_rate": 1e-4,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-8,
    "weight_decay": 0.01,
    "grad_clip_norm": 1.0,
}
TOKENS = list(b"the cat sat on the mat")
DATUM = {
    "model_input": {"chunks": [{"type": "encoded_text", "tokens": TOKENS[:-1]}]},
    "loss_fn_inputs": {
        "target_tokens": {"data": TOKENS[1:], "dtype": "int64"},
        "weights": {"data": [1.0] * (len(TOKENS) - 1), "dtype": "float32"},
    },
}


async def _json(
    client: httpx.AsyncClient, method: str, path: str, status: int, **kw: object
) -> Json:
    reply = await client.request(method, API + path, **kw)  # type: ignore[arg-type]
    assert reply.status_code == status, (method, path, reply.status_code, reply.text)
    body: Json = reply.json()
    return body


async def _poll(client: httpx.AsyncClient, op: Json) -> Json:
    # The official SDK polls without `wait`, until `done` or `error`.
    for _ in range(400):
        if op["status"] in ("done", "error"):
            return op
        await asyncio.sleep(0.005)
        op = await _json(client, "GET", f"/operations/{op['id']}", 200)
    raise AssertionError(op)


async def test_the_official_sdk_trains_saves_and_loads_on_todays_wire(
    client: httpx.AsyncClient,
) -> None:
    session = await _json(
        client,
        "POST",
        "/sessions",
        201,
        json={"tags": [], "user_metadata": {}, "sdk_version": "1.19.2"},
    )
    beat = await client.post(f"{API}/sessions/{session['id']}/heartbeat")  # empty body
    assert beat.status_code == 200, beat.text
    supported = await _json(
        client, "GET", "/supported-models", 200, params={"limit": 100, "offset": 0}
    )
    assert "weaver-tiny" in {m["name"] for m in supported["items"]}
    model = await _json(
        client,
        "POST",
        f"/sessions/{session['id']}/models",
        201,
        json={
            "model_seq_id": 1,
            "base_model": "weaver-tiny",
            "training_mode": "lora",
            "lora_config": {
                "rank": 8,
                "train_unembed": True,
                "train_mlp": True,
                "train_attn": True,
            },
        },
    )
    model_id = model["id"]
    assert model["tokenizer_path"]

    fb = _sdk_step(model_id, 1)
    first = await _json(client, "POST", f"/models/{model_id}/forward-backward-passes", 202, json=fb)
    # A read timeout makes the official SDK send the same body and seq_id again.
    again = await client.post(f"{API}/models/{model_id}/forward-backward-passes", json=fb)
    assert again.status_code in (200, 202)
    assert again.json()["id"] == first["id"]
    result = (await _poll(client, first))["response"]
    assert len(result["loss_fn_outputs"]) == 1
    assert "loss:sum" in result["metrics"]
    optim = {"payload": {"model_id": model_id, "seq_id": 2, "adam_params": ADAM}}
    step = await _json(client, "POST", f"/models/{model_id}/optimizer-steps", 202, json=optim)
    assert (await _poll(client, step))["status"] == "done"

    # Before every save the official SDK lists; its default type is `weight`.
    assert (await _json(client, "GET", f"/models/{model_id}/checkpoints", 200)) == {"items": []}
    save = await _json(
        client, "POST", f"/models/{model_id}/checkpoints", 202, json={"type": "weight"}
    )
    saved = (await _poll(client, save))["response"]
    assert saved["type"] == "weight"
    assert saved["path"] == f"weaver://{model_id}/checkpoints/{saved['name']}"
    full = await _json(
        client,
        "POST",
        f"/models/{model_id}/checkpoints",
        202,
        json={"type": "weight_and_optimizer", "name": "full", "ttl_seconds": None},
    )
    full_path = (await _poll(client, full))["response"]["path"]
    ttl = await _json(
        client,
        "PATCH",
        f"/models/{model_id}/checkpoints/ttl",
        200,
        json={"path": saved["path"], "ttl_seconds": 3600},
    )
    assert ttl["ttl_seconds"] == 3600

    for path, include_optimizer in ((saved["path"], False), (full_path, True)):
        load = await _json(
            client,
            "POST",
            f"/models/{model_id}/load",
            202,
            json={"path": path, "include_optimizer": include_optimizer},
        )
        assert (await _poll(client, load))["status"] == "done"

    # On close: terminate, errors ignored; a second one must not be a server error.
    for _ in range(2):
        done = await client.post(f"{API}/models/{model_id}/terminate")
        assert done.status_code < 500, done.text


def _sdk_step(model_id: str, seq_id: int) -> Json:
    """A forward_backward request as the SDK's default (JSON) transport sends it."""
    return {
        "payload": {
            "model_id": model_id,
            "seq_id": seq_id,
            "forward_backward_input": {"loss_fn": "cross_entropy", "data": [DATUM]},
            "tensor_transport": "default",
        }
    }


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator without extensions, as today's Weaver, and the SDK's headers."""
    app = make_app(extensions="none")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", headers=HEADERS
    ) as client:
        yield client


async def _sdk_model(client: httpx.AsyncClient, **fields: object) -> str:
    """A new session's first model, created as the SDK creates it, with ``fields``."""
    session = await _json(client, "POST", "/sessions", 201, json={"tags": ["weaver-sdk"]})
    body = {"model_seq_id": 1, "base_model": "weaver-tiny", **fields}
    model = await _json(client, "POST", f"/sessions/{session['id']}/models", 201, json=body)
    return str(model["id"])


async def test_the_official_sdks_forward_and_optional_fields_on_todays_wire(
    client: httpx.AsyncClient,
) -> None:
    # create_model(performance_tier=..., training_max_sequence_length=...)
    model_id = await _sdk_model(
        client,
        lora_config={"rank": 32, "train_unembed": True},
        performance_tier="fast",
        training_max_sequence_length=8192,
    )
    sent = {**DATUM, "metadata": {"source": "eval", "index": 0}}
    replies = []
    # forward(), then forward_backward(..., metadata=...), as _payloads.py builds them.
    for seq_id, route, key in (
        (1, "forward-passes", "forward_input"),
        (2, "forward-backward-passes", "forward_backward_input"),
    ):
        body = {
            "payload": {
                "model_id": model_id,
                "seq_id": seq_id,
                "tensor_transport": "default",
                key: {"loss_fn": "cross_entropy", "data": [sent]},
                "metadata": {"step": 1},
            }
        }
        op = await _json(client, "POST", f"/models/{model_id}/{route}", 202, json=body)
        assert "kind" not in op  # operation-details is an extension, off here
        replies.append((await _poll(client, op))["response"])
    assert replies[0] == replies[1]
    assert replies[0]["metrics"]["loss:sum"] > 0


def _http_binary_body(request: Json, pack: bytes) -> tuple[bytes, str]:
    """A request as the official SDK's `http-binary` tensor transport sends it
    (`tensor_transport.MultipartLayout`): a JSON manifest, then the tensor pack."""
    boundary = "weaver-0123456789abcdef0123456789abcdef"
    manifest = json.dumps(
        {
            "version": 1,
            "request": request,
            "tensor_pack": {
                "size_bytes": len(pack),
                "sha256": hashlib.sha256(pack).hexdigest(),
                "codec": "zstd",
                "decoded_size_bytes": len(pack),
            },
        },
        separators=(",", ":"),
    ).encode()
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="manifest"\r\n'
        "Content-Type: application/json\r\n\r\n".encode()
        + manifest
        + f"\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="tensor_pack"; filename="pack.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + pack
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def test_the_official_sdks_http_binary_transport_is_refused_by_name(
    client: httpx.AsyncClient,
) -> None:
    # WEAVER_TENSOR_TRANSPORT=http-binary makes the SDK send its training passes as
    # multipart; the emulator reads JSON only, and says so rather than "not valid JSON".
    model_id = await _sdk_model(client, lora_config={"rank": 8})
    packed = {
        "model_input": {"chunks": [{"type": "encoded_text", "tokens": {"$tensor": 0}}]},
        "loss_fn_inputs": {"target_tokens": {"$tensor": 1}, "weights": {"$tensor": 2}},
    }
    for route, key in (
        ("forward-backward-passes", "forward_backward_input"),
        ("forward-passes", "forward_input"),
    ):
        request = {
            "payload": {
                "model_id": model_id,
                "seq_id": 1,
                "tensor_transport": "http-binary",
                key: {"loss_fn": "cross_entropy", "data": [packed]},
                "tensor_compression": "zstd",
            }
        }
        content, content_type = _http_binary_body(request, b"\x28\xb5\x2f\xfd" + bytes(64))
        refused = await client.post(
            f"{API}/models/{model_id}/{route}",
            content=content,
            headers={"Content-Type": content_type},
        )
        error = assert_error(
            refused, 400, "invalid_request", "multipart/form-data", "http-binary", "default"
        )
        assert error["retryable"] is False
        assert error["details"] == {"field": "body"}
    # Nothing was taken: the same seq_id, sent as JSON, is the model's first pass.
    fb = _sdk_step(model_id, 1)
    route = f"/models/{model_id}/forward-backward-passes"
    op = await _json(client, "POST", route, 202, json=fb)
    assert (await _poll(client, op))["status"] == "done"

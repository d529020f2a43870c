"""Optional fields the official SDK may send are accepted (and ignored); a wrong type of
each is still a 400 naming it, and every other unknown field stays one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.emulator import Api, Json, assert_error, batch

# Free-form JSON values, as the SDK's `metadata=` takes them.
METADATA: Json = {"step": 1, "lr": 0.001, "tags": ["a", 2], "nested": {"ok": True, "none": None}}


@pytest.mark.parametrize(
    "extra",
    [
        {"performance_tier": "normal"},
        {"performance_tier": "fast"},
        {"performance_tier": "flash"},
        {"training_max_sequence_length": 2},
        {"training_max_sequence_length": 32768, "performance_tier": "normal"},
    ],
)
async def test_create_model_accepts_the_sdks_optional_fields(api: Api, extra: Json) -> None:
    session_id = await api.session()
    body = {"model_seq_id": 1, "base_model": "weaver-tiny", **extra}
    created = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    assert created["base_model"] == "weaver-tiny"
    # The same body again is the same model; they are part of what a repeat must match.
    again = await api.ok("POST", f"/sessions/{session_id}/models", 201, json=body)
    assert again["id"] == created["id"]
    losses = [await api.step(created["id"], batch(i)) for i in range(2)]
    plain = await api.model(mode="lora", rank=32)  # the server's defaults, without the fields
    assert losses == [await api.step(plain, batch(i)) for i in range(2)], "accepted and ignored"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"performance_tier": "turbo"}, "body.performance_tier"),
        ({"performance_tier": 1}, "body.performance_tier"),
        ({"training_max_sequence_length": 1}, "body.training_max_sequence_length"),
        ({"training_max_sequence_length": "4096"}, "body.training_max_sequence_length"),
        ({"training_max_sequence_length": 4096.5}, "body.training_max_sequence_length"),
        ({"scheduling_policy": "fifo"}, "body.scheduling_policy"),  # still unknown
    ],
)
async def test_create_model_refuses_a_wrong_type_of_them(api: Api, extra: Json, field: str) -> None:
    session_id = await api.session()
    body = {"model_seq_id": 1, "base_model": "weaver-tiny", **extra}
    response = await api.request("POST", f"/sessions/{session_id}/models", json=body)
    error = assert_error(response, 400, "invalid_request", field)
    assert error["details"]["field"] == field


def _with_metadata(api: Api, route: str, model_id: str, payload: Any, datum: Any) -> Json:
    data = batch(0)
    if datum is not None:
        data[0]["metadata"] = datum
    body = (api.fb_body if route == "forward-backward-passes" else api.forward_body)(model_id, data)
    if payload is not None:
        body["payload"]["metadata"] = payload
    return body


@pytest.mark.parametrize("route", ["forward-backward-passes", "forward-passes"])
async def test_training_passes_accept_request_and_datum_metadata(api: Api, route: str) -> None:
    model_id = await api.model()
    results = []
    for payload, datum in ((None, None), (METADATA, None), (None, METADATA), ({}, {"a": "b"})):
        body = _with_metadata(api, route, model_id, payload, datum)
        op = await api.ok("POST", f"/models/{model_id}/{route}", 202, json=body)
        results.append(await api.done(op))
    # Ignored: the same data scores the same (the weights did not change: no optimizer step).
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("route", ["forward-backward-passes", "forward-passes"])
@pytest.mark.parametrize(
    ("payload", "datum", "field"),
    [
        ("step-1", None, "body.payload.metadata"),
        ([1], None, "body.payload.metadata"),
        (None, "x", "data[0].metadata"),
        (None, [{"a": 1}], "data[0].metadata"),
    ],
)
async def test_training_passes_refuse_metadata_that_is_not_an_object(
    api: Api, route: str, payload: Any, datum: Any, field: str
) -> None:
    model_id = await api.model()
    body = _with_metadata(api, route, model_id, payload, datum)
    response = await api.request("POST", f"/models/{model_id}/{route}", json=body)
    error = assert_error(response, 400, "invalid_request", field)
    assert error["details"]["field"].endswith(field)


async def test_tensor_compression_stays_unknown(api: Api) -> None:
    # The SDK sends it only with its multipart transport, which this wire does not have.
    model_id = await api.model()
    body = api.fb_body(model_id, batch(0))
    body["payload"]["tensor_compression"] = "zstd"
    response = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=body)
    assert_error(response, 400, "invalid_request", "body.payload.tensor_compression")

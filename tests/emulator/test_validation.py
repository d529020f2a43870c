"""Every malformed request gets a 400 ``invalid_request`` whose message names the field."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from tests.support.emulator import Api, assert_error, batch, datum
from tests.support.spec_values import SCHEMAS
from weaver_facade._spec_schema import spec_document, spec_schemas
from weaver_facade.emulator._validation import _fast_validator, check_body

NAME_MAX: int = SCHEMAS["CheckpointName"]["maxLength"]


async def test_invalid_json_and_missing_body(api: Api) -> None:
    for content in (b"{not json", b'{"tags": NaN}', b'{"tags": Infinity}', b"\xff\xfe"):
        response = await api.request(
            "POST", "/sessions", content=content, headers={"content-type": "application/json"}
        )
        assert_error(response, 400, "invalid_request", "body")
    assert_error(
        await api.request(
            "POST", "/sessions", content=b"", headers={"content-type": "application/json"}
        ),
        400,
        "invalid_request",
        "body: is required",
    )


@pytest.mark.parametrize(
    "content",
    [
        rb'{"tags": [], "user_metadata": {}, "sdk_version": "\ud800"}',
        rb'{"tags": [], "user_metadata": {"k": "a\uDFFFb"}, "sdk_version": "x"}',
        rb'{"tags": [], "user_metadata": {"\udc00": "v"}, "sdk_version": "x"}',
        rb'{"tags": ["\ude00\ud83d"], "user_metadata": {}, "sdk_version": "x"}',
    ],
)
async def test_unpaired_surrogate_escape_is_refused_before_anything_is_stored(
    api: Api, content: bytes
) -> None:
    """A string with a lone surrogate cannot be encoded in any reply: stored, it made every
    reply that holds it (the model listing, for good) a plain-text 500."""
    headers = {"content-type": "application/json"}
    response = await api.request("POST", "/sessions", content=content, headers=headers)
    assert_error(response, 400, "invalid_request", "body: is not valid JSON")
    session_id = await api.session()
    model_body = (
        rb'{"model_seq_id": 1, "base_model": "weaver-tiny", "user_metadata": {"k": "\ud800"}}'
    )
    response = await api.request(
        "POST", f"/sessions/{session_id}/models", content=model_body, headers=headers
    )
    assert_error(response, 400, "invalid_request", "body: is not valid JSON")
    listing = await api.request("GET", "/models")
    assert listing.status_code == 200, listing.text
    assert listing.json()["items"] == []


async def test_paired_surrogate_escapes_and_escaped_backslashes_are_accepted(api: Api) -> None:
    content = rb'{"tags": ["\ud83d\ude00", "\\ud800"], "user_metadata": {}, "sdk_version": "x"}'
    response = await api.request(
        "POST", "/sessions", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["tags"] == ["\U0001f600", "\\ud800"]


@pytest.mark.parametrize(
    ("payload_patch", "field"),
    [
        ({"seq_id": 0}, "body.payload.seq_id"),
        ({"seq_id": "1"}, "body.payload.seq_id"),
        ({"seq_id": True}, "body.payload.seq_id"),
        ({"model_id": "../etc"}, "body.payload.model_id"),
        ({"surprise": 1}, "body.payload.surprise"),
    ],
)
async def test_training_payload_fields_are_named(
    api: Api, payload_patch: dict[str, Any], field: str
) -> None:
    model_id = await api.model()
    body = api.fb_body(model_id, batch())
    body["payload"].update(payload_patch)
    response = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=body)
    assert_error(response, 400, "invalid_request", field)
    assert response.json()["details"]["field"].startswith(field)


async def test_seq_id_message_says_what_is_expected(api: Api) -> None:
    model_id = await api.model()
    body = api.fb_body(model_id, batch())
    body["payload"]["seq_id"] = -3
    response = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=body)
    assert_error(response, 400, "invalid_request", "body.payload.seq_id: must be an integer >= 1")


async def test_missing_and_unknown_fields(api: Api) -> None:
    model_id = await api.model()
    assert_error(
        await api.request(
            "POST", f"/models/{model_id}/optimizer-steps", json={"payload": {"model_id": model_id}}
        ),
        400,
        "invalid_request",
        "body.payload.",
        "required",
    )
    adam = {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.0}
    assert_error(
        await api.request(
            "POST",
            f"/models/{model_id}/optimizer-steps",
            json={"payload": {"model_id": model_id, "seq_id": 1, "adam_params": adam}},
        ),
        400,
        "invalid_request",
        "body.payload.adam_params.grad_clip_norm",
    )
    assert_error(
        await api.request("POST", "/sessions", json={"tags": [], "colour": "blue"}),
        400,
        "invalid_request",
        "body.colour",
    )
    assert_error(
        await api.request("POST", f"/models/{model_id}/checkpoints", json={"type": "training"}),
        400,
        "invalid_request",
        "body.type",
    )


async def test_adam_bounds(api: Api) -> None:
    model_id = await api.model()
    for name, value in (
        ("learning_rate", -0.1),
        ("beta1", 1),
        ("eps", 0),
        ("weight_decay", 2),
        ("grad_clip_norm", -1),
    ):
        body = api.optim_body(model_id)
        body["payload"]["adam_params"][name] = value
        response = await api.request("POST", f"/models/{model_id}/optimizer-steps", json=body)
        assert_error(response, 400, "invalid_request", f"body.payload.adam_params.{name}")


async def test_tokens_outside_the_vocabulary_name_datum_and_position(api: Api) -> None:
    model_id = await api.model()
    data = [datum([1, 2, 3], [2, 3, 4]), datum([5, 6, 256, 7], [6, 7, 8, 9])]
    response = await api.request(
        "POST", f"/models/{model_id}/forward-backward-passes", json=api.fb_body(model_id, data)
    )
    body = assert_error(response, 400, "invalid_request", "datum 1", "position 2", "256")
    assert "data[1]" in body["message"]

    bad_target = [datum([1, 2, 3], [2, 999, 4])]
    response = await api.request(
        "POST",
        f"/models/{model_id}/forward-backward-passes",
        json=api.fb_body(model_id, bad_target),
    )
    assert_error(response, 400, "invalid_request", "datum 0", "position 1", "999")


async def test_the_emulator_s_capacity_is_a_server_refusal_naming_model_and_limit(
    api: Api,
) -> None:
    # The wire bounds no sequence or batch; the emulator's own capacity is what its
    # supported-models listing states, and a request beyond it is refused as bad input.
    listing = await api.ok("GET", "/supported-models")
    tiny = next(m for m in listing["items"] if m["name"] == "weaver-tiny")
    most = tiny["config"]["max_sequence_length"]
    assert isinstance(most, int)
    assert most >= 16
    model_id = await api.model()
    path = f"/models/{model_id}/forward-backward-passes"

    def chunked(n: int, pieces: int) -> Any:
        """A datum of ``n`` tokens in ``pieces`` chunks (the wire bounds neither count)."""
        d = datum([i % 256 for i in range(n)], [i % 256 for i in range(n)])
        tokens = d["model_input"]["chunks"][0]["tokens"]
        step = -(-n // pieces)
        d["model_input"]["chunks"] = [
            {"type": "encoded_text", "tokens": tokens[k : k + step]} for k in range(0, n, step)
        ]
        return d

    full = [chunked(most, 32), datum([1, 2], [2, 3])]
    assert len(full[0]["model_input"]["chunks"]) == 32
    await api.ok("POST", path, 202, json=api.fb_body(model_id, full))
    over = [datum([1, 2], [2, 3]), chunked(most + 1, 32)]
    body = assert_error(
        await api.request("POST", path, json=api.fb_body(model_id, over)),
        400,
        "invalid_request",
        f"data[1].model_input: {most + 1} tokens, more than weaver-tiny's",
        f"maximum sequence length of {most}",
    )
    assert body["details"]["field"].endswith("data[1].model_input")

    # datum_id: up to the official SDK's 255 characters.
    named = [{**datum([1], [2]), "datum_id": "d" * 255}]
    op = await api.ok("POST", path, 202, json=api.fb_body(model_id, named))
    result = (await api.wait(op))["response"]
    assert result["loss_fn_outputs"][0]["datum_id"] == "d" * 255
    named[0]["datum_id"] += "d"
    assert_error(
        await api.request("POST", path, json=api.fb_body(model_id, named)),
        400,
        "invalid_request",
        "data[0].datum_id",
    )

    await api.ok("POST", path, 202, json=api.fb_body(model_id, [datum([1], [2])] * 256))
    assert_error(
        await api.request("POST", path, json=api.fb_body(model_id, [datum([1], [2])] * 257)),
        400,
        "invalid_request",
        "forward_backward_input.data: 257 Datum, more than the 256",
        # The README: the refusal names the limit and the model, as a sequence's does.
        "in one batch for weaver-tiny",
    )

    negative_target = [datum([1, 2, 3], [2, -5, 4])]
    response = await api.request(
        "POST",
        f"/models/{model_id}/forward-backward-passes",
        json=api.fb_body(model_id, negative_target),
    )
    assert_error(response, 400, "invalid_request", "datum 0", "position 1")


async def test_targets_and_weights_must_line_up_with_tokens(api: Api) -> None:
    model_id = await api.model()
    short_targets = [datum([1, 2, 3], [2, 3])]
    response = await api.request(
        "POST",
        f"/models/{model_id}/forward-backward-passes",
        json=api.fb_body(model_id, short_targets),
    )
    assert_error(response, 400, "invalid_request", "target_tokens", "datum 0")
    short_weights = [datum([1, 2, 3], [2, 3, 4], [1.0, 1.0])]
    response = await api.request(
        "POST",
        f"/models/{model_id}/forward-backward-passes",
        json=api.fb_body(model_id, short_weights),
    )
    assert_error(response, 400, "invalid_request", "weights", "datum 0")


def _fits_float32(value: float) -> bool:
    try:
        struct.pack("<f", value)  # refuses a value that rounds to infinity in float32
    except OverflowError:
        return False
    return True


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        ("float32", 1e308),
        ("float32", -1e39),
        ("int32", 2**31),
        ("int64", -(2**63) - 1),
        ("int64", 0.5),
    ],
)
async def test_a_value_outside_its_dtype_is_refused_at_submission(
    api: Api, dtype: str, value: float
) -> None:
    assert dtype != "float32" or not _fits_float32(value)
    model_id = await api.model()
    bad = datum([1, 2, 3], [2, 3, 4], [1.0, value, 1.0])
    bad["loss_fn_inputs"]["weights"]["dtype"] = dtype
    response = await api.request(
        "POST", f"/models/{model_id}/forward-backward-passes", json=api.fb_body(model_id, [bad])
    )
    field = "body.payload.forward_backward_input.data[0].loss_fn_inputs.weights.data"
    body = assert_error(response, 400, "invalid_request", field, "position 1", dtype)
    assert body["details"]["field"] == field


async def test_the_largest_float32_weight_is_accepted(api: Api) -> None:
    largest = 3.4028235e38  # float32's largest value, as printed; it rounds to it
    assert _fits_float32(largest)
    model_id = await api.model()
    data = [datum([1, 2, 3], [2, 3, 4], [1.0, largest, -largest])]
    await api.ok(
        "POST",
        f"/models/{model_id}/forward-backward-passes",
        202,
        json=api.fb_body(model_id, data),
    )


async def test_payload_model_id_must_match_the_path(api: Api) -> None:
    model_id = await api.model()
    other = await api.model()
    response = await api.request(
        "POST", f"/models/{model_id}/forward-backward-passes", json=api.fb_body(other, batch())
    )
    assert_error(response, 400, "invalid_request", "body.payload.model_id", model_id)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/models/.hidden", "path.model_id"),
        ("/models/m%2F1", "path.model_id"),
        ("/models/%2e%2e", "path.model_id"),
        ("/models/m%001", "path.model_id"),
        ("/models/m%0A", "path.model_id"),
        ("/sessions/" + "s" * 200, "path.session_id"),
        ("/operations/op%20x", "path.operation_id"),
        ("/checkpoints/not-a-uuid", "path.checkpoint_id"),
        ("/checkpoints/..%2F..%2Fetc", "path.checkpoint_id"),
    ],
)
async def test_bad_path_parameters_are_400(api: Api, path: str, field: str) -> None:
    assert_error(await api.request("GET", path), 400, "invalid_request", field)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/supported-models", {"limit": 0}, "query.limit"),
        ("/supported-models", {"limit": 1001}, "query.limit"),
        ("/supported-models", {"limit": "ten"}, "query.limit"),
        ("/supported-models", {"offset": -1}, "query.offset"),
        ("/operations/op-1", {"wait": 61}, "query.wait"),
        ("/operations/op-1", {"wait": -1}, "query.wait"),
        ("/operations/op-1", {"wait": "nan"}, "query.wait"),
        ("/models/m-1/checkpoints", {"limit": 0}, "query.limit"),
    ],
)
async def test_bad_query_parameters_are_400(
    api: Api, path: str, params: dict[str, Any], field: str
) -> None:
    assert_error(await api.request("GET", path, params=params), 400, "invalid_request", field)


async def test_bad_idempotency_key_is_400(api: Api) -> None:
    response = await api.request(
        "POST", "/sessions", json={}, headers={"Idempotency-Key": "has spaces"}
    )
    assert_error(response, 400, "invalid_request", "Idempotency-Key")


async def test_checkpoint_names_and_paths_are_checked(api: Api) -> None:
    model_id = await api.model()
    too_long = "x" * (NAME_MAX + 1)
    for name in ("", ".hidden", "a/b", "..", "a\nb", "ok\n", too_long, "%2e%2e", "a\x00b"):
        response = await api.request(
            "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "name": name}
        )
        assert_error(response, 400, "invalid_request", "body.name")
    bad_paths = (
        f"weaver://{model_id}/checkpoints/../../x",
        f"weaver://{model_id}/checkpoints/a/b",
        f"weaver://{model_id}/checkpoints/",
        f"weaver://{model_id}/checkpoints/..",
        f"weaver://{model_id}/checkpoints/ok\n",
        "file:///etc/passwd",
        f"weaver://{model_id}/other/x",
    )
    # A path's name is any a server may report (the wire's `"name"?: str`): these are
    # paths, of checkpoints this server never made.
    unknown_paths = tuple(
        f"weaver://{model_id}/checkpoints/{name}" for name in ("%2e%2e", "...", "a b")
    )
    for path in bad_paths + unknown_paths:
        status, code = (400, "invalid_request") if path in bad_paths else (404, "not_found")
        field = "body.path" if status == 400 else path
        response = await api.request(
            "POST", f"/models/{model_id}/load", json={"path": path, "include_optimizer": False}
        )
        assert_error(response, status, code, field)
        response = await api.request(
            "PATCH", f"/models/{model_id}/checkpoints/ttl", json={"path": path, "ttl_seconds": 5}
        )
        assert_error(response, status, code, field)


async def test_a_refused_pattern_is_said_in_the_spec_s_words(api: Api) -> None:
    # The refusals quoted the regular expression; the spec gives each pattern's rule in
    # words, which the facade's own refusals quote too.
    def words(schema: str) -> str:
        return f"must be {SCHEMAS[schema]['x-weaver-pattern-words']}"

    model_id = await api.model()
    refused = {
        words("CheckpointName"): await api.request(
            "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "name": ".x"}
        ),
        words("CheckpointPath"): await api.request(
            "POST",
            f"/models/{model_id}/load",
            json={"path": "file:///etc/passwd", "include_optimizer": False},
        ),
        words("ResourceId"): await api.request("GET", "/models/.hidden"),
        "must be "
        + spec_document()["components"]["parameters"]["IdempotencyKey"]["schema"][
            "x-weaver-pattern-words"
        ]: await api.request("POST", "/sessions", json={}, headers={"Idempotency-Key": "a b"}),
    }
    for rule, response in refused.items():
        assert "must match" not in assert_error(response, 400, "invalid_request", rule)["message"]


async def test_ttl_bounds(api: Api) -> None:
    model_id = await api.model()
    for ttl in (0, -1, 315360001, 1.5, "10"):
        response = await api.request(
            "POST", f"/models/{model_id}/checkpoints", json={"type": "weight", "ttl_seconds": ttl}
        )
        assert_error(response, 400, "invalid_request", "body.ttl_seconds")


async def test_unknown_route_and_method(api: Api) -> None:
    assert_error(await api.request("GET", "/nowhere"), 404, "not_found")
    response = await api.request("DELETE", "/sessions")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert response.headers.get("x-request-id")
    assert response.json()["retryable"] is False


def _variants(value: Any) -> Iterator[Any]:
    """``value`` with one leaf at a time replaced by something near a schema's edge."""
    if isinstance(value, dict):
        for key, item in value.items():
            for changed in _variants(item):
                yield {**value, key: changed}
            yield {k: v for k, v in value.items() if k != key}
        yield {**value, "unexpected": 1}
    elif isinstance(value, list):
        yield []
        for index, item in enumerate(value):
            for changed in _variants(item):
                yield [*value[:index], changed, *value[index + 1 :]]
    elif isinstance(value, str):
        yield from (value + "\n", "", ".hidden", "../x", "x" * 300, 7)
    elif isinstance(value, bool):
        yield from ("true", None)
    elif isinstance(value, int | float):
        yield from (-1, 0, 10**20, 1.5, "1", True)


def test_the_fast_validator_never_accepts_what_the_checked_one_refuses() -> None:
    # check_body trusts the compiled validator's "valid"; the pure-Python one (which names
    # the field) must agree on every such body, edges included (a trailing newline against
    # an anchored pattern, out-of-range numbers, unknown fields).
    schemas = spec_document()["components"]["schemas"]
    compared = 0
    for name, schema in schemas.items():
        example = schema.get("example")
        compiled = _fast_validator(name)
        assert compiled is not None, "the emulator extra installs jsonschema-rs"
        if example is None:
            continue
        for body in [example, *_variants(example)]:
            fast = compiled.is_valid(body)
            checked = spec_schemas().component(name).is_valid(body)
            assert not fast or checked, (name, body)
            compared += 1
    assert compared > 500


async def test_refused_bodies_are_explained_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pure-Python validator that names a refused body's field walks every token: about
    # 0.4 s for a 64 KiB body of small integers, seconds for a 65,536-token one. The event
    # loop serves every other request (long-polls included), so it must stay free: it only
    # asks the compiled validator "valid?", and explains a refusal on a worker thread.
    from weaver_facade.emulator import _app

    threads: list[str] = []
    real = check_body

    def recording(schema: str, body: Any) -> None:
        threads.append(threading.current_thread().name)
        real(schema, body)

    monkeypatch.setattr(_app, "check_body", recording)
    model_id = await api.model()
    threads.clear()
    loop_thread = threading.current_thread().name
    valid = api.fb_body(model_id, batch())
    response = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=valid)
    assert response.status_code == 202
    small = api.fb_body(model_id, [datum([1] * 4096, [1] * 4096), datum([1, -5], [1, 1])])
    small["payload"]["seq_id"] = 2
    response = await api.request("POST", f"/models/{model_id}/forward-backward-passes", json=small)
    assert_error(response, 400, "invalid_request", "data[1].model_input.chunks[0].tokens[1]")
    tokens = list(range(65_536))
    big = {"path": f"weaver://{model_id}/checkpoints/x", "padding": tokens}
    response = await api.request("POST", f"/models/{model_id}/load", json=big)
    assert_error(response, 400, "invalid_request", "body.padding: is not a known field")
    # The valid body never needed an explanation; both refusals were explained off the loop.
    assert len(threads) == 2
    assert loop_thread not in threads


@pytest.mark.parametrize("route", ["forward-backward-passes", "forward-passes"])
async def test_a_large_batch_is_converted_off_the_event_loop_and_the_store_lock(
    app: Starlette, api: Api, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    # A batch of 64 sequences of 4,096 tokens (3.7 MB, within the emulator's capacity) takes
    # half a second to fingerprint and convert; the event loop and every request that reads
    # the store would wait for it.
    from weaver_facade.emulator import _inputs, _service

    lock = app.state.emulator.store.lock
    seen: list[tuple[str, bool]] = []
    real = _inputs.datums

    def recording(data: Any, spec: Any, input_key: str) -> Any:
        seen.append((threading.current_thread().name, lock._is_owned()))
        return real(data, spec, input_key)

    monkeypatch.setattr(_service, "datums", recording)
    model_id = await api.model()
    loop_thread = threading.current_thread().name
    path = f"/models/{model_id}/{route}"
    body = api.fb_body if route == "forward-backward-passes" else api.forward_body
    small = body(model_id, batch())
    await api.ok("POST", path, 202, json=small, headers={"Idempotency-Key": "small-batch"})
    tokens = [i % 256 for i in range(4096)]
    large = body(model_id, [datum(tokens, tokens) for _ in range(16)])
    assert len(json.dumps(large)) > 64 * 1024
    # With a key, as the facade sends it: its record is written in the same transaction.
    op = await api.ok("POST", path, 202, json=large, headers={"Idempotency-Key": "large-batch"})
    assert (await api.wait(op))["status"] == "done"
    (small_thread, small_locked), (large_thread, large_locked) = seen
    assert small_thread == loop_thread  # a small batch costs less than a thread hop
    assert large_thread != loop_thread
    assert not small_locked
    assert not large_locked

"""``--extensions``: an emulator without some of openapi.yaml's extensions is a server that never
had them. The expectations come from the spec itself (its markers), not from the emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from openapi_spec_validator import validate

from tests.support.emulator import KEY_A, Api, AppFactory, Json, batch
from tests.support.openapi import openapi
from weaver_facade._extensions import WITHOUT, extension_markers
from weaver_facade.cli import main

SPEC = openapi()
NAMES = sorted({str(v) for _, v in extension_markers(SPEC)})


def _api(app: Any) -> tuple[httpx.AsyncClient, Api]:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", timeout=30
    )
    return client, Api(client, KEY_A)


def _marked(schema: str) -> set[str]:
    """The fields of a schema that belong to an extension (marked, or a marked schema's $ref)."""
    out = set()
    schemas = SPEC["components"]["schemas"]
    for field, prop in schemas[schema].get("properties", {}).items():
        ref = prop.get("$ref", "").rsplit("/", 1)[-1]
        if "x-weaver-extension" in prop or "x-weaver-extension" in schemas.get(ref, {}):
            out.add(field)
    return out


async def _done(api: Api, op_id: str) -> Json:
    for _ in range(400):
        op = await api.ok("GET", f"/operations/{op_id}")
        if op["status"] in ("done", "error"):
            return op
        await asyncio.sleep(0.005)
    raise AssertionError(op_id)


def test_the_spec_names_the_extensions_the_brief_asks_for() -> None:
    assert {"idempotency-key", "long-poll", "cursor-paging", "checkpoint-by-id"} <= set(NAMES)


async def test_with_every_extension_on_replies_carry_the_extension_fields(
    make_app: AppFactory,
) -> None:
    client, api = _api(make_app())
    async with client:
        model_id = await api.model()
        model = await api.ok("GET", f"/models/{model_id}")
        assert _marked("Model") <= set(model)
        op = await api.ok("POST", f"/models/{model_id}/checkpoints", 202, json={"type": "weight"})
        done = await _done(api, op["id"])
        assert _marked("Operation") <= set(done)
        assert _marked("Checkpoint") <= set(done["response"])


async def test_with_none_the_replies_have_no_extension_fields(make_app: AppFactory) -> None:
    client, api = _api(make_app(extensions="none"))
    async with client:
        model_id = await api.model()
        model = await api.ok("GET", f"/models/{model_id}")
        assert not _marked("Model") & set(model), model
        op = await api.ok(
            "POST", f"/models/{model_id}/checkpoints", 202, json={"type": "weight", "name": "a"}
        )
        assert not _marked("Operation") & set(op)
        done = await _done(api, op["id"])
        assert not _marked("Checkpoint") & set(done["response"])
        listed = await api.ok("GET", f"/models/{model_id}/checkpoints", params={"limit": 1})
        assert set(listed) == {"items"}
        assert not _marked("Checkpoint") & set(listed["items"][0])
        loaded = await api.ok(
            "POST",
            f"/models/{model_id}/load",
            202,
            json={"path": done["response"]["path"], "include_optimizer": False},
        )
        result = (await _done(api, loaded["id"]))["response"]
        assert not _marked("LoadResult") & set(result)
        assert set(result) == {"path", "include_optimizer"}
        # A reply documented by a status range (`2XX`).
        terminated = await api.ok("POST", f"/models/{model_id}/terminate")
        assert terminated["id"] == model_id
        assert not _marked("Model") & set(terminated), terminated


async def test_without_cursor_paging_a_list_has_every_item_and_ignores_the_parameters(
    make_app: AppFactory,
) -> None:
    client, api = _api(make_app(extensions="idempotency-key,long-poll"))
    async with client:
        model_id = await api.model()
        for i in range(3):
            op = await api.ok(
                "POST",
                f"/models/{model_id}/checkpoints",
                202,
                json={"type": "weight", "name": f"c{i}"},
            )
            await _done(api, op["id"])
        # A cursor the server never issued is no error: the parameter is not looked at.
        listed = await api.ok(
            "GET", f"/models/{model_id}/checkpoints", params={"limit": 1, "cursor": "bogus"}
        )
        assert [c["name"] for c in listed["items"]] == ["c0", "c1", "c2"]
        assert "next_cursor" not in listed


async def test_without_checkpoint_by_id_the_route_answers_as_an_unknown_route(
    make_app: AppFactory,
) -> None:
    client, api = _api(make_app(extensions="none"))
    async with client:
        model_id = await api.model()
        op = await api.ok("POST", f"/models/{model_id}/checkpoints", 202, json={"type": "weight"})
        ckpt = (await _done(api, op["id"]))["response"]
        for method in ("GET", "DELETE"):
            by_id = await api.request(method, f"/checkpoints/{ckpt['id']}")
            unknown = await api.request(method, f"/no-such-route/{ckpt['id']}")
            assert by_id.status_code == unknown.status_code == 404
            body, other = by_id.json(), unknown.json()
            assert body["error"] == other["error"] == "not_found"
            assert body["message"] == other["message"].replace("no-such-route", "checkpoints")
        # The checkpoint is still there.
        listed = await api.ok("GET", f"/models/{model_id}/checkpoints")
        assert [c["id"] for c in listed["items"]] == [ckpt["id"]]


@pytest.mark.parametrize("offered", ["none", "checkpoint-by-id"])
async def test_without_model_listing_get_models_answers_as_an_unknown_route(
    make_app: AppFactory, offered: str
) -> None:
    client, api = _api(make_app(extensions=offered))
    async with client:
        model_id = await api.model()
        listed = await api.request("GET", "/models")
        unknown = await api.request("GET", "/no-such-route")
        assert listed.status_code == unknown.status_code == 404
        assert listed.json()["message"] == unknown.json()["message"].replace(
            "no-such-route", "models"
        )
        # A model is still there, by its id.
        assert (await api.ok("GET", f"/models/{model_id}"))["id"] == model_id


def _routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "delete", "put")
    }


@pytest.mark.parametrize("offered", ["none", "long-poll,model-status,checkpoint-by-id"])
async def test_the_spec_it_serves_is_that_of_a_server_with_only_its_extensions(
    make_app: AppFactory, offered: str
) -> None:
    keep: set[str | None] = set() if offered == "none" else set(offered.split(","))
    client, _ = _api(make_app(extensions=offered))
    async with client:
        reply = await client.get("/openapi.yaml")
    assert reply.status_code == 200
    served = yaml.safe_load(reply.text)
    validate(served)
    assert {str(v) for _, v in extension_markers(served)} == keep
    # Every route of the checked-in spec, but those of the extensions that are off.
    expected = {
        (method, path)
        for method, path in _routes(SPEC)
        if SPEC["paths"][path][method].get("x-weaver-extension") in keep | {None}
    }
    assert _routes(served) == expected
    for schema in ("Checkpoint", "Model", "Operation"):
        fields = set(SPEC["components"]["schemas"][schema]["properties"])
        off = {f for f in _marked(schema) if not _marked_as(schema, f) & keep}
        assert off, schema  # each of these has fields of an extension that is off
        props = SPEC["components"]["schemas"][schema]["properties"]
        # A field of the sheet's rules without its extension keeps just those.
        kept = {f: props[f][WITHOUT] for f in off if WITHOUT in props[f]}
        served_props = served["components"]["schemas"][schema]["properties"]
        assert set(served_props) == fields - off | set(kept)
        assert {f: served_props[f] for f in kept} == kept


def _marked_as(schema: str, field: str) -> set[str]:
    schemas = SPEC["components"]["schemas"]
    prop = schemas[schema]["properties"][field]
    ref = prop.get("$ref", "").rsplit("/", 1)[-1]
    return {str(prop.get("x-weaver-extension", schemas.get(ref, {}).get("x-weaver-extension")))}


async def test_with_model_listing_get_models_lists_the_key_s_models(make_app: AppFactory) -> None:
    client, api = _api(make_app(extensions="model-listing"))
    async with client:
        model_id = await api.model()
        listed = await api.ok("GET", "/models")
        assert [m["id"] for m in listed["items"]] == [model_id]


async def test_without_idempotency_key_a_repeated_post_acts_again(make_app: AppFactory) -> None:
    client, api = _api(make_app(extensions="none"))
    async with client:
        model_id = await api.model()
        key = {"Idempotency-Key": "not a valid key, and ignored"}
        body = {"type": "weight", "name": "once"}
        await api.ok("POST", f"/models/{model_id}/checkpoints", 202, json=body, headers=key)
        again = await api.request("POST", f"/models/{model_id}/checkpoints", json=body, headers=key)
        assert again.status_code == 409
        assert again.json()["error"] == "checkpoint_exists"
        # Training operations are still de-duplicated on (model_id, seq_id).
        first = await api.submit_fb(model_id, batch(0))
        payload = {
            "payload": {
                "model_id": model_id,
                "seq_id": 1,
                "forward_backward_input": {"loss_fn": "cross_entropy", "data": batch(0)},
            }
        }
        repeat = await api.ok(
            "POST", f"/models/{model_id}/forward-backward-passes", 200, json=payload
        )
        assert repeat["id"] == first["id"]
        assert not _marked("Operation") & set(repeat)


async def test_without_long_poll_wait_is_ignored(make_app: AppFactory) -> None:
    client, api = _api(make_app(extensions="none", latency={"forward_backward": 30}))
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        started = time.monotonic()
        polled = await api.ok("GET", f"/operations/{op['id']}", params={"wait": 20})
        assert time.monotonic() - started < 5.0
        assert polled["status"] in ("pending", "running")
        # Not looked at at all: a value the extension would refuse passes.
        await api.ok("GET", f"/operations/{op['id']}", params={"wait": -5})


async def test_with_long_poll_a_bad_wait_is_refused(make_app: AppFactory) -> None:
    client, api = _api(make_app())
    async with client:
        model_id = await api.model()
        op = await api.submit_fb(model_id, batch())
        refused = await api.request("GET", f"/operations/{op['id']}", params={"wait": -5})
        assert refused.status_code == 400


@pytest.mark.parametrize("value", ["warp-drive", "idempotency-key,warp", "long-poll,"])
def test_an_unknown_extension_is_a_usage_error_listing_the_valid_ones(value: str) -> None:
    result = CliRunner().invoke(main, ["emulator", "--extensions", value])
    assert result.exit_code == 2, result.output
    for name in NAMES:
        assert name in result.output

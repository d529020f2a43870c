"""A reply documented by a status range (`2XX`) is checked against that range's schema."""

from __future__ import annotations

import json

import pytest

from weaver_facade.contract._spec import load_spec

HEADERS = {"X-Request-ID": "req-1"}


@pytest.mark.parametrize("status", [200, 202, 204])
@pytest.mark.parametrize(
    "body",
    [{"id": "m-1", "base_model": "weaver-tiny", "status": "terminated"}, {}],
    ids=["model", "empty-object"],
)
def test_any_2xx_terminate_reply_with_a_json_body_conforms(status: int, body: object) -> None:
    # "POST /models/{model_id}/terminate: the real SDK calls it on close and ignores errors."
    spec = load_spec()
    reply = json.dumps(body).encode()
    assert spec.check_reply(spec.by_id("terminate_model"), status, HEADERS, reply) == []


def test_a_status_outside_the_documented_range_is_still_a_finding() -> None:
    spec = load_spec()
    (problem,) = spec.check_reply(spec.by_id("terminate_model"), 302, HEADERS, b"{}")
    assert problem.check == "status_code_conformance"


# "PATCH /models/{model_id}/checkpoints/ttl ... synchronous": no reply is promised either.
CHECKPOINT = {
    "id": "0b6f8f7e-3c1a-4d8e-9f3a-2b7c5d1e4f60",
    "name": "c1",
    "type": "weight",
    "path": "weaver://m-1/checkpoints/c1",
    "status": "completed",
    "ttl_seconds": 3600,
    "created_at": "2026-11-29T10:00:00Z",
    "expires_at": "2026-11-29T11:00:00Z",
    "train_unembed": True,
    "train_mlp": True,
    "train_attn": True,
}


@pytest.mark.parametrize("operation", ["terminate_model", "set_checkpoint_ttl"])
@pytest.mark.parametrize("status", [200, 201, 204])
@pytest.mark.parametrize("body", [b"", b"{}", b"  \n"], ids=["none", "empty-object", "blank"])
def test_a_reply_without_a_promised_body_conforms_with_any_or_none(
    operation: str, status: int, body: bytes
) -> None:
    spec = load_spec()
    assert spec.check_reply(spec.by_id(operation), status, HEADERS, body) == []


def test_a_ttl_reply_with_the_checkpoint_conforms() -> None:
    spec = load_spec()
    reply = json.dumps(CHECKPOINT).encode()
    assert spec.check_reply(spec.by_id("set_checkpoint_ttl"), 200, HEADERS, reply) == []


def test_a_body_where_the_spec_promises_one_is_still_required() -> None:
    # Only the routes marked x-weaver-body-optional take an empty body.
    spec = load_spec()
    problems = spec.check_reply(spec.by_id("get_model"), 200, HEADERS, b"")
    assert [p.check for p in problems] == ["response_schema_conformance"]

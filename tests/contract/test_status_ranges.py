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

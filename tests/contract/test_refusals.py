"""A refused spec-valid request is explained with the fields the server names, in the server's
own words: ``body.NAME``, ``["body", "NAME"]``, `` `NAME` `` or a plain sentence."""

from __future__ import annotations

import json

import pytest

from weaver_facade.contract._spec import load_spec

# The wire's history (weaver-wire.md): "load addressed by `checkpoint_id` instead of `path`".
LOAD_BODY = {"path": "weaver://m-1/checkpoints/a", "include_optimizer": False}


def refusal(message: str) -> str:
    spec = load_spec()
    reply = json.dumps({"error": "invalid_request", "message": message, "retryable": False})
    problem = spec.describe_refusal(spec.by_id("load_checkpoint"), LOAD_BODY, 400, reply.encode())
    return problem.message


@pytest.mark.parametrize(
    "said",
    [
        "checkpoint_id is required",
        "checkpoint_id: required",
        "missing field checkpoint_id",
        "required field: checkpoint_id",
    ],
)
def test_a_field_named_in_plain_words(said: str) -> None:
    assert refusal(said).endswith(
        "; LoadCheckpointRequest: the server asks for `checkpoint_id`, which "
        "LoadCheckpointRequest does not define"
    )


def test_the_marked_forms_still_name_the_swap() -> None:
    said = "body.checkpoint_id: field required; body.path: unexpected field"
    assert refusal(said).endswith(
        "; LoadCheckpointRequest: the server requires `checkpoint_id` instead of `path`"
    )


@pytest.mark.parametrize(
    "said",
    [
        "checkpoint not ready",  # no field at all
        "model_id m-1 is not a model",  # a field name, but not as a missing field
        "the request is missing a body",  # "missing", but no field name
    ],
)
def test_sentences_without_a_missing_field_get_the_plain_line(said: str) -> None:
    assert refusal(said) == f"a spec-valid request was refused with 400 invalid_request: {said!r}"

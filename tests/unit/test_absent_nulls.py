"""A field the spec requires but lets be null, left out of a reply, reads as null.

A server may leave a null out (the real wire's checkpoints have `ttl_seconds` and
`expires_at`, null for a permanent one): refusing the reply would fail a save or a
listing that the server did. Only the facade is lenient: the contract kit holds a
server to the spec (``tests/contract/test_drift.py``, ``Drift.OMITTED_NULLS``).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from weaver_client.schemas import SCHEMAS

from tests.support.fakeserver import (
    FakeWeaver,
    RewritingFake,
    checkpoint_json,
    each_checkpoint,
    json_reply,
    service,
)
from weaver_facade import ResponseValidationError, _wire


def _nullable(schema: dict[str, Any]) -> bool:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    types = schema.get("type", [])
    return "null" in ([types] if isinstance(types, str) else types)


# Read from the spec: the Checkpoint fields it requires and lets be null.
CHECKPOINT: Any = SCHEMAS["Checkpoint"]
NULLABLE = sorted(f for f in CHECKPOINT["required"] if _nullable(CHECKPOINT["properties"][f]))


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each field is warned about once per process: each test starts afresh."""
    monkeypatch.setattr(_wire, "_warned", set())


def _without_nulls(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in checkpoint.items() if not (k in NULLABLE and v is None)}


def omits_nulls() -> RewritingFake:
    """The fake, leaving the nulls of its checkpoints out of every reply."""
    return RewritingFake(each_checkpoint(_without_nulls))


def test_the_spec_has_such_fields() -> None:
    assert NULLABLE == ["expires_at", "ttl_seconds"]


@pytest.mark.parametrize("done_at_once", [True, False])
def test_a_save_and_a_listing_without_the_nulls_succeed(
    done_at_once: bool, caplog: pytest.LogCaptureFixture
) -> None:
    fake = omits_nulls()
    fake.done_at_once = done_at_once
    with caplog.at_level(logging.INFO, logger="weaver_facade"), service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        saved = trainer.save_state("s1")
        listed = trainer.list_checkpoints()
        got = trainer.get_checkpoint(saved.path)
    sent = fake.body(fake.sent("POST", "/api/v1/models/m-1/checkpoints")[0])
    assert sent["name"] == "s1"
    for checkpoint in (saved, *listed, got):
        assert (checkpoint.name, checkpoint.ttl_seconds, checkpoint.expires_at) == (
            "s1",
            None,
            None,
        )
    # Said once per schema and field, not once per reply; an INFO, not a WARNING: a null
    # left out loses nothing, and a command line would print it on each of its commands.
    for field in NULLABLE:
        said = [r for r in caplog.records if f"left out `{field}`" in r.getMessage()]
        assert [r.levelno for r in said] == [logging.INFO], caplog.text


def test_a_set_ttl_reply_without_the_nulls_is_the_checkpoint() -> None:
    fake = omits_nulls()
    fake.checkpoints["m-1"].append({**checkpoint_json("m-1", "s1"), "ttl_seconds": 60})
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        made_permanent = trainer.set_checkpoint_ttl("weaver://m-1/checkpoints/s1", None)
    assert (made_permanent.ttl_seconds, made_permanent.expires_at) == (None, None)
    assert fake.sent("GET", "/api/v1/models/m-1/checkpoints") == []  # no read back


def test_another_problem_of_the_reply_is_named_not_the_absent_null() -> None:
    fake = FakeWeaver()
    bad = {k: v for k, v in checkpoint_json("m-1", "s1").items() if k not in NULLABLE}
    fake.script(
        "GET", "/api/v1/models/m-1/checkpoints", json_reply(200, {"items": [{**bad, "type": "x"}]})
    )
    with service(fake) as svc, pytest.raises(ResponseValidationError) as refused:
        svc.training_client("m-1").list_checkpoints()
    assert refused.value.field == "items[0].type"


def test_a_required_field_that_cannot_be_null_is_still_refused_when_absent() -> None:
    fake = FakeWeaver()
    bad = {k: v for k, v in checkpoint_json("m-1", "s1").items() if k != "created_at"}
    fake.script("GET", "/api/v1/models/m-1/checkpoints", json_reply(200, {"items": [bad]}))
    with service(fake) as svc, pytest.raises(ResponseValidationError) as refused:
        svc.training_client("m-1").list_checkpoints()
    assert "required field `created_at` missing" in str(refused.value)

"""Reply fields the real wire does not promise never fail a call that the server did.

openapi.yaml lists what a Session and a Model promise (`x-weaver-promised`), and marks
an Operation's `kind`, model and times as extensions. A server without them may still
send such a field under a meaning of its own.
"""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import (
    KEY,
    FakeWeaver,
    RewritingFake,
    each_checkpoint,
    json_reply,
    service,
)
from tests.support.openapi import openapi
from weaver_facade import ResponseValidationError, _schema, _wire, datum_from_tokens
from weaver_facade._extensions import MARKER, restrict_fields

MODELS = "/api/v1/sessions/s-1/models"


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each field is warned about once per process: each test starts afresh."""
    monkeypatch.setattr(_wire, "_warned", set())


def _op(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "op-1", "status": status, **extra}


def test_a_session_whose_times_are_numbers_opens() -> None:
    fake = FakeWeaver()
    session = {"id": "s-1", "created_at": 1796237184, "updated_at": 1796237184.5}
    fake.script("POST", "/api/v1/sessions", json_reply(201, session))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
    assert trainer.model_id == "m-1"


def test_a_model_reply_with_its_own_status_and_mode_is_not_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The model is made on the server: refusing the reply would leave it running,
    # unknown to the client, and never terminated on close.
    fake = FakeWeaver()
    model = {"id": "m-1", "status": "ready", "training_mode": "LoRA", "created_at": 5}
    model |= {"session_id": 5, "lora_config": {"rank": "8"}}  # not parsed, but converted
    fake.script("POST", MODELS, json_reply(201, model))
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        assert trainer.model_id == "m-1"
    assert fake.terminated == ["m-1"]
    for field in ("status", "session_id", "lora_config"):
        assert f"`{field}` is left out" in caplog.text


def test_an_operation_kind_of_the_servers_own_does_not_fail_the_step() -> None:
    fake = FakeWeaver()
    result = {
        "loss_fn_outputs": [{"logprobs": {"data": [-1.0, -2.0], "dtype": "float32"}}],
        "metrics": {"loss:sum": 3.0},
    }
    path = "/api/v1/models/m-1/forward-backward-passes"
    fake.script("POST", path, json_reply(202, _op("pending", kind="TRAINING", created_at=1)))
    done = _op("done", kind="TRAINING", response=result, created_at=1, updated_at=2)
    fake.script("GET", "/api/v1/operations/op-1", json_reply(200, done))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        step = trainer.forward_backward([datum_from_tokens([1, 2, 3])])
    assert step.loss == 3.0


def test_a_promised_field_that_breaks_the_spec_is_still_refused() -> None:
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/sessions", json_reply(201, {"id": 5}))
    with service(fake) as svc, pytest.raises(ResponseValidationError, match="`id`"):
        svc.create_training_client("weaver-tiny")


def test_an_operation_status_of_the_servers_own_is_still_refused() -> None:
    fake = FakeWeaver()
    path = "/api/v1/models/m-1/optimizer-steps"
    fake.script("POST", path, json_reply(202, _op("completed", kind="TRAINING")))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(ResponseValidationError, match="`status`"):
            trainer.optim_step()


def test_a_gzip_reply_is_re_read_as_plain_json() -> None:
    fake = FakeWeaver()
    body = gzip.compress(json.dumps({"id": "s-1", "created_at": 7}).encode())
    reply = httpx.Response(
        201,
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    fake.script("POST", "/api/v1/sessions", reply)
    with service(fake) as svc:
        assert svc.create_training_client("weaver-tiny").model_id == "m-1"


def test_an_export_operation_of_a_kind_of_its_own_is_waited_for() -> None:
    # At 202 the reply is an Operation (an Artifact's kind is hf_model or hf_adapter).
    fake = FakeWeaver()
    export = "/api/v1/checkpoints/0b0c8f0e-3a1e-4a59-9a51-3d0b8f4d2a11/export"
    artifact = {
        "id": "5c2b9d3e-1f7a-4e0b-8f2c-6a1d9e3b7c40",
        "checkpoint_id": "0b0c8f0e-3a1e-4a59-9a51-3d0b8f4d2a11",
        "model_id": "m-1",
        "kind": "hf_adapter",
        "status": "completed",
        "uri": "weaver://m-1/checkpoints/c1/artifacts/hf_adapter",
    }
    fake.script("POST", export, json_reply(202, _op("pending", kind="EXPORT")))
    done = _op("done", kind="EXPORT", response=artifact)
    fake.script("GET", "/api/v1/operations/op-1", json_reply(200, done))
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        got = trainer.export_weights("0b0c8f0e-3a1e-4a59-9a51-3d0b8f4d2a11")
    assert str(got.id) == artifact["id"]


def test_the_key_in_an_unpromised_field_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/operations/op-1", json_reply(200, _op("pending", kind=KEY)))
    with caplog.at_level(logging.DEBUG, logger="weaver_facade"), service(fake) as svc:
        assert svc.operation("op-1").status.value == "pending"
    assert "`kind` is left out" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize("artifacts_kind", [True, False], ids=["an-artifact-s", "its-own"])
def test_an_operation_kind_the_spec_lets_a_server_send_is_said_at_info_only(
    artifacts_kind: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The spec's rule for a server without the extension: any `kind` but an artifact's.
    rule = openapi()["components"]["schemas"]["Operation"]["properties"]["kind"]
    kind = rule["x-weaver-without-extension"]["not"]["enum"][0] if artifacts_kind else "save"
    monkeypatch.setattr(_wire, "_warned", set())
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/operations/op-1", json_reply(200, _op("pending", kind=kind)))
    with caplog.at_level(logging.INFO, logger="weaver_facade"), service(fake) as svc:
        assert svc.operation("op-1").status.value == "pending"
    said = [r.levelno for r in caplog.records if "`kind` is left out" in r.getMessage()]
    assert said == [logging.WARNING if artifacts_kind else logging.INFO]


def test_an_operation_kind_that_is_a_list_is_left_out() -> None:
    fake = FakeWeaver()
    reply = json_reply(200, _op("pending", kind=["hf_adapter"]))
    fake.script("GET", "/api/v1/operations/op-1", reply)
    with service(fake) as svc:
        assert svc.operation("op-1").status.value == "pending"


@pytest.mark.parametrize("done_at_once", [True, False])
def test_an_unpromised_field_of_a_saved_checkpoint_is_left_out(
    done_at_once: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The saved Checkpoint comes in the operation's `response`, which was read without the
    # leniency of a reply's own fields: the save failed after the server had made it.
    # Its checkpoints' `size_bytes` (an extension) in words of its own.
    fake = RewritingFake(each_checkpoint(lambda c: c | {"size_bytes": "12 MB"}))
    fake.done_at_once = done_at_once
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        saved = trainer.save_state("s1")
        listed = trainer.list_checkpoints()
    assert saved.name == "s1"
    assert [c.name for c in listed] == ["s1"]
    assert saved.size_bytes is None
    assert "`size_bytes` is left out" in caplog.text


def test_a_null_extension_of_a_checkpoint_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The spec lets none of the three be null: read as absent without a word, where a
    # value of another type is left out with a WARNING (and was refused before).
    fake = FakeWeaver()
    listed: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "a",
        "type": "weight_and_optimizer",
        "status": "completed",
    }
    listed |= {"path": "weaver://m-1/checkpoints/a", "ttl_seconds": None, "expires_at": None}
    listed |= {"created_at": "2026-11-29T10:00:00Z", "train_unembed": True}
    listed |= {"train_mlp": True, "train_attn": True}
    nulls = {"model_id": None, "size_bytes": None, "sha256": None}
    page = {"items": [listed | nulls], "next_cursor": None}
    fake.script("GET", "/api/v1/models/m-1/checkpoints", json_reply(200, page))
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        (checkpoint,) = svc.training_client("m-1", next_seq_id=1).list_checkpoints()
    assert (checkpoint.model_id, checkpoint.size_bytes, checkpoint.sha256) == ("m-1", None, None)
    for field in nulls:
        assert f"`{field}` is left out" in caplog.text


def test_a_lora_config_with_a_flag_of_another_type_is_left_out_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Only the flag was left out, and the spec's default took its place: the model's
    # LoraSettings said train_mlp=True of a server that had sent "no".
    fake = FakeWeaver()
    lora = {"rank": 8, "train_mlp": "no", "train_attn": False, "train_unembed": False}
    model = {"id": "m-7", "base_model": "weaver-tiny", "lora_config": lora}
    fake.script("GET", "/api/v1/models/m-7", json_reply(200, model))
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        info = svc.get_model("m-7")
    assert info.lora is None
    assert info.lora_rank is None
    assert "`lora_config` is left out" in caplog.text


def test_a_field_that_names_an_extensions_schema_through_an_alias_is_the_extensions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A spec may name a schema through another that is only a `$ref` to it (the generator
    # takes such an alias): the field is the extension's all the same, for the facade
    # (`unpromised`) as for the emulator and the kit (`restrict_fields`).
    ref = "#/components/schemas/"
    schemas = dict(_schema._schemas()) | {
        "Marked": {"type": "object", MARKER: "long-poll"},
        "Alias": {"$ref": f"{ref}Marked"},
        "Holder": {
            "type": "object",
            "properties": {
                "direct": {"$ref": f"{ref}Marked"},
                "aliased": {"$ref": f"{ref}Alias"},
                "plain": {"type": "string"},
            },
        },
    }
    monkeypatch.setattr(_schema, "_schemas", lambda: schemas)
    assert _schema.unpromised("Holder") == {"direct", "aliased"}
    restricted = restrict_fields({"components": {"schemas": schemas}}, frozenset({"long-poll"}))
    kept = restricted["components"]["schemas"]
    assert set(kept["Holder"]["properties"]) == {"plain"}
    assert {"Marked", "Alias"}.isdisjoint(kept)  # no $ref left to a dropped schema
